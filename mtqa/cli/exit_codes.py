"""Exit codes, documented in the README."""

OK = 0  # nothing at or above --fail-on
FINDINGS = 1  # findings at or above --fail-on
BAD_INPUT = 2  # bad input or usage
INTERNAL_ERROR = 3  # a checker or mtqa itself failed
