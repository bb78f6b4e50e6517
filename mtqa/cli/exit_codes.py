"""Exit codes, documented in the README (the verdict rule: ``mtqa.cli.check.exit_code``)."""

OK = 0  # every document passes --fail-on (default block: no verdict is block)
FINDINGS = 1  # some document fails --fail-on (default: its verdict is block)
BAD_INPUT = 2  # bad input or usage, or a document over the size or time budget
INTERNAL_ERROR = 3  # a checker or mtqa itself failed
