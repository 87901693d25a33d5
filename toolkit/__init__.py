"""Audio drama production toolkit: screenplay YAML in, mastered serial podcast out."""

import warnings

# pydub looks for ffmpeg at import; the toolkit never asks it to (WAV and raw PCM only,
# pedalboard reads and writes everything else), so the warning would only confuse users.
warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
warnings.filterwarnings("ignore", message="'audioop' is deprecated", category=DeprecationWarning)

__version__ = "0.1.0"
