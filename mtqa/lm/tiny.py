"""A tiny randomly initialised causal LM with a real byte-level BPE tokenizer.

For tests and for checking the loading code without real weights: everything is built locally
in a second (a BPE trained on a few sentences, a 2-layer model), nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_CORPUS = [
    "The Russian military used the city as its main logistics base.",
    "Ukrainian forces said on Tuesday that they had retaken several villages near the river.",
    "The president met the prime minister in the capital to discuss the new budget.",
    "Officials reported heavy losses after the attack on the power station.",
    "Prices rose again in March, the statistics office said.",
    "Kyiv's mayor said the water supply would be restored by the end of the week.",
]


def build_tokenizer(vocab_size: int = 400) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 4, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   pad_token="<pad>")


def build_model(vocab_size: int, arch: str = "llama", seed: int = 0) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, Gemma3TextConfig, LlamaConfig

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, head_dim=8)
    if arch == "llama":
        config = LlamaConfig(**common, tie_word_embeddings=True)
    elif arch == "gemma3":
        # a short sliding window and a logit soft-cap exercise the code paths Gemma needs
        config = Gemma3TextConfig(**common, sliding_window=8, layer_types=["sliding_attention", "full_attention"],
                                  final_logit_softcapping=30.0)
    else:
        raise ValueError(arch)
    config._attn_implementation = "sdpa"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    # random init is tiny-valued: widen the logits so the test scores are not all ~uniform
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0) if p.dim() > 1 else None
    return model.eval()


def save_tiny(directory: str | Path, arch: str = "llama") -> Path:
    """A complete checkpoint directory (config, safetensors, tokenizer) for ``source: {local: ...}``."""
    directory = Path(directory)
    tokenizer = build_tokenizer()
    model = build_model(len(tokenizer), arch)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
