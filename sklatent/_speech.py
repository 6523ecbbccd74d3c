"""Spoken words for :func:`sklatent.datasets.load_speech_embeddings`: synthesis and
log-mel features.

The recordings are synthesised offline by the espeak-ng program (a Debian
package), so nothing is downloaded: the ten digits and thirty
common words, each spoken by many voices (an English accent combined with a
voice variant) at several speeds and pitches, as 16 kHz waveforms of one
second. The features are log-mel spectrograms computed in torch
(:func:`torch.stft` and a triangular mel filterbank built here).

This module touches no file: the cache lives in ``sklatent._cache`` and the
public loader in ``sklatent.datasets``.
"""

import math
import os
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from scipy.signal import resample_poly
from torch import nn

from ._zoo import _FACTORY, _one_torch_thread, _seed, _train_classifier

#: Sampling rate of every waveform, in Hz, and the length of a recording in samples.
SAMPLE_RATE = 16_000
N_SAMPLES = SAMPLE_RATE

#: The words spoken: the ten digits, then thirty common short words.
DIGITS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
WORDS = DIGITS + (
    "yes",
    "no",
    "up",
    "down",
    "left",
    "right",
    "on",
    "off",
    "stop",
    "go",
    "cat",
    "dog",
    "bird",
    "tree",
    "house",
    "bed",
    "happy",
    "red",
    "green",
    "blue",
    "water",
    "music",
    "book",
    "table",
    "window",
    "morning",
    "night",
    "hello",
    "thanks",
    "please",
)

#: espeak-ng's English accents (its voice files) and voice variants; a voice is an
#: accent combined with a variant, such as ``"en-us+f2"``.
ACCENTS = (
    "en-us",
    "en",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "croak",
    "klatt",
    "klatt3",
    "Alex",
    "Annie",
    "Denis",
    "Gene",
    "Jacky",
)
VOICES = tuple(f"{accent}+{variant}" for accent in ACCENTS for variant in VARIANTS)

#: Ranges of espeak-ng's speed (words per minute) and pitch (0 to 99, 50 is the
#: voice's own) the renditions are drawn from, uniformly.
SPEEDS = (120, 220)
PITCHES = (25, 75)

#: A sample quieter than this (of full scale) is silence, trimmed at both ends.
_SILENCE = 1e-3

_INSTALL = "apt-get install espeak-ng"


def _espeak_command():
    """The path of the espeak-ng program; a one-line error says how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise ImportError(
            "Speech synthesis needs espeak-ng, which is not installed: install the "
            f"system package with `{_INSTALL}` (Debian, Ubuntu)."
        )
    return path


def synthesise(word, voice, *, speed=175, pitch=50):
    """One recording: ``word`` spoken by ``voice``, as a 16 kHz waveform of 1 s.

    espeak-ng runs in a process of its own for each recording: its synthesiser
    carries state from one utterance to the next (the phase of its pitch
    flutter), so only a fresh process makes a recording a function of its
    arguments alone. The silence around the word is trimmed; the word starts
    at the first sample and is followed by zeros (or cut at one second).

    Returns
    -------
    ndarray of shape (N_SAMPLES,), dtype float32
        Samples in [-1, 1].

    Raises
    ------
    ImportError
        If espeak-ng is not installed; the message gives the install command.
    ValueError
        If ``voice`` is not one of ``VOICES``.
    """
    if voice not in VOICES:
        raise ValueError(
            f"Unknown voice {voice!r}: a voice is an accent of {list(ACCENTS)} and "
            f"a variant of {list(VARIANTS)} joined by '+', such as 'en-us+f2'."
        )
    wav = subprocess.run(
        [_espeak_command(), "-v", voice, "-s", str(speed), "-p", str(pitch)]
        + ["--stdout", word],
        capture_output=True,
        check=True,
    ).stdout
    # espeak-ng streams a WAV file whose sizes are placeholders: read the
    # format and take every byte after the data chunk's header.
    (rate,) = struct.unpack_from("<I", wav, 24)
    start = wav.index(b"data", 36) + 8
    samples = np.frombuffer(wav[start : len(wav) - (len(wav) - start) % 2], "<i2")
    divisor = math.gcd(SAMPLE_RATE, rate)
    samples = resample_poly(
        samples.astype(np.float32) / 32768, SAMPLE_RATE // divisor, rate // divisor
    ).astype(np.float32)
    loud = np.flatnonzero(np.abs(samples) > _SILENCE)
    waveform = np.zeros(N_SAMPLES, np.float32)
    if len(loud):
        word_samples = samples[loud[0] : loud[-1] + 1][:N_SAMPLES]
        waveform[: len(word_samples)] = word_samples
    return waveform


def renditions(voices, n_renditions, random_state):
    """Each word spoken ``n_renditions`` times by each voice, at drawn speeds, pitches.

    Nothing is synthesised: :func:`waveforms` makes the recordings of rows.

    Returns
    -------
    dict
        Per row, ``word`` and ``voice`` (indices into ``WORDS`` and ``voices``),
        ``speed`` and ``pitch``; rows ordered by voice, then word, then
        rendition.
    """
    rng = np.random.RandomState(random_state)
    n = len(voices) * len(WORDS) * n_renditions
    voice, word, _ = np.unravel_index(
        np.arange(n), (len(voices), len(WORDS), n_renditions)
    )
    return {
        "word": word,
        "voice": voice,
        "speed": rng.randint(SPEEDS[0], SPEEDS[1] + 1, size=n),
        "pitch": rng.randint(PITCHES[0], PITCHES[1] + 1, size=n),
    }


def waveforms(rows, voices):
    """The recordings of ``rows`` (from :func:`renditions`): (n, N_SAMPLES) float32."""

    def one(row):
        return synthesise(
            WORDS[rows["word"][row]],
            voices[rows["voice"][row]],
            speed=rows["speed"][row],
            pitch=rows["pitch"][row],
        )

    # Each recording is its own espeak-ng process: one thread per core keeps
    # them all busy.
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        recordings = list(pool.map(one, range(len(rows["word"]))))
    return np.stack(recordings) if recordings else np.zeros((0, N_SAMPLES), np.float32)


# --- Features ---------------------------------------------------------------------


def _hz_to_mel(frequency):
    return 2595.0 * np.log10(1.0 + np.asarray(frequency, np.float64) / 700.0)


def _mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, np.float64) / 2595.0) - 1.0)


def mel_filterbank(n_mels, n_fft, sample_rate, f_min, f_max):
    """Triangular filters on the mel scale (HTK's formula), unnormalised.

    Filter ``j`` rises linearly from the ``j``-th to the ``j+1``-th of
    ``n_mels + 2`` frequencies equally spaced in mel between ``f_min`` and
    ``f_max``, and falls back to 0 at the ``j+2``-th.

    Returns
    -------
    ndarray of shape (n_mels, n_fft // 2 + 1), dtype float64
        Weight of each FFT bin in each filter.
    """
    bins = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - low) / (centre - low)
    falling = (high - bins) / (high - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


class LogMel(nn.Module):
    """Waveforms (n, n_samples) -> log-mel spectrograms (n, n_mels, n_frames).

    A Hann-windowed short-time Fourier transform (32 ms windows every 20 ms at
    16 kHz, centred frames: 51 frames a second), the power spectrum,
    ``n_mels`` triangular mel filters between 20 Hz and 8 kHz, then
    ``log(mel + 1e-6)``. The window and the filterbank are buffers, so the
    module computes in the dtype and on the device it is moved to.
    """

    def __init__(self, *, n_mels=40, n_fft=512, hop_length=320, epsilon=1e-6):
        super().__init__()
        self.n_fft, self.hop_length, self.epsilon = n_fft, hop_length, epsilon
        self.register_buffer(
            "window", torch.hann_window(n_fft, periodic=True, dtype=torch.float32)
        )
        filterbank = mel_filterbank(n_mels, n_fft, SAMPLE_RATE, 20.0, 8000.0)
        self.register_buffer("filterbank", torch.from_numpy(filterbank).float())

    def forward(self, waveforms):
        spectrum = torch.stft(
            waveforms,
            self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            return_complex=True,
        )
        power = spectrum.real**2 + spectrum.imag**2
        return torch.log(self.filterbank @ power + self.epsilon)


def log_mels(rows, voices, *, chunk=256):
    """The log-mel features of the recordings of ``rows``: (n, 40, 51) float32.

    Recordings are synthesised ``chunk`` at a time and dropped once featurised,
    so the waveforms of the whole dataset never sit in memory together.
    """
    module = LogMel()
    n = len(rows["word"])
    chunks = []
    with _one_torch_thread(), torch.no_grad():
        for start in range(0, max(n, 1), chunk):
            part = {key: values[start : start + chunk] for key, values in rows.items()}
            chunks.append(module(torch.from_numpy(waveforms(part, voices))))
    return torch.cat(chunks)


# --- The encoders -----------------------------------------------------------------

# Bump whenever anything here changes the recordings, the features or the
# encoders, so that stale caches are not read.
_RECIPE_VERSION = "3"
_N_MELS = 40
# Dropout between an encoder and its head in training: the embedding cannot lean
# on a few coordinates, which makes the encoders' spaces more alike (stitching
# on held-out voices: docs/modalities.rst).
_DROPOUT = 0.3


class _MeanMax(nn.Module):
    """(n, channels, frames) -> (n, 2 * channels): the mean and the max over time."""

    def forward(self, x):
        return torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)


class _Statistics(nn.Module):
    """(n, bands, frames) -> (n, 4 * bands): per band the mean, the standard
    deviation, the mean absolute frame-to-frame change and the max over time."""

    def forward(self, x):
        change = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=2)
        return torch.cat([x.mean(dim=2), x.std(dim=2), change, x.amax(dim=2)], dim=1)


def _cnn():
    return nn.Sequential(
        nn.BatchNorm1d(_N_MELS, **_FACTORY),
        nn.Conv1d(_N_MELS, 48, 5, stride=2, padding=2, **_FACTORY),
        nn.ReLU(),
        nn.Conv1d(48, 64, 5, stride=2, padding=2, **_FACTORY),
        nn.ReLU(),
        nn.Conv1d(64, 96, 3, padding=1, **_FACTORY),
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),
        nn.Flatten(),
        nn.Linear(96, 64, **_FACTORY),
        nn.Tanh(),
    )


def _statistics():
    return nn.Sequential(
        _Statistics(),
        nn.BatchNorm1d(4 * _N_MELS, **_FACTORY),
        nn.Linear(4 * _N_MELS, 256, **_FACTORY),
        nn.ReLU(),
        nn.Linear(256, 48, **_FACTORY),
        nn.Tanh(),
    )


def _frames():
    return nn.Sequential(
        nn.BatchNorm1d(_N_MELS, **_FACTORY),
        nn.Conv1d(_N_MELS, 64, 3, padding=1, **_FACTORY),
        nn.ReLU(),
        nn.Conv1d(64, 64, 1, **_FACTORY),
        nn.ReLU(),
        _MeanMax(),
        nn.Linear(128, 32, **_FACTORY),
        nn.Tanh(),
    )


#: name -> (own seed, embedding dimension, builder, epochs, description)
ENCODERS = {
    "speech-cnn": (
        0,
        64,
        _cnn,
        16,
        "1-D CNN on the log-mels: three convolutions over time (strides 2, 2, "
        "1), ReLU, max over time, 64 tanh outputs",
    ),
    "speech-stats": (
        1,
        48,
        _statistics,
        40,
        "MLP on pooled statistics (per mel band: mean, standard deviation, "
        "mean absolute change, max over time) 160-256-48, tanh",
    ),
    "speech-frames": (
        2,
        32,
        _frames,
        20,
        "frame encoder (a width-3 convolution, then a per-frame layer), mean "
        "and max over time, 32 tanh outputs",
    ),
}


def build_encoder(name):
    """An untrained encoder ``name``: log-mels (n, 40, frames) -> (n, dim)."""
    return ENCODERS[name][2]()


def train_encoder(name, features, target, train, test, random_state):
    """Train encoder ``name`` with a linear head on the rows ``train``.

    Returns ``(encoder, embedding, accuracy)``: the trained encoder in eval
    mode, the float32 embedding of all ``features`` and the accuracy of the
    network's own head on the rows ``test``.
    """
    own_seed, dim, build, epochs, _ = ENCODERS[name]
    return _train_classifier(
        build,
        dim,
        len(WORDS),
        features,
        target,
        train,
        test,
        dropout=_DROPOUT,
        seed=_seed(random_state, own_seed),
        epochs=epochs,
    )


def waveform_encoder(encoder):
    """``encoder`` behind the log-mel features: 16 kHz waveforms -> embeddings."""
    return nn.Sequential(LogMel(), encoder).eval()
