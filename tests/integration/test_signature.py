import mtqa


def test_signature_names_the_grammar_backend_and_gazetteer():
    pipeline = mtqa.make_pipeline(mtqa.Settings(use_lm=False), only=["grammar", "names", "ocr"])
    mtqa.check_documents([mtqa.Document.from_text("Officials in Kyiv said tbe bridge reopened.")], pipeline)
    signature = pipeline.signature
    assert signature["grammar_backend"].startswith("lingotweaker-")
    assert signature["gazetteer_hash"] and signature["model"] is None
    assert f"grammar_backend:{signature['grammar_backend']}" in signature["text"]
    assert set(signature["checkers"]) == {"grammar", "names", "ocr"}
