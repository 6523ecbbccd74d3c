"""Spoken words synthesised by espeak-ng, and their log-mel features."""

import shutil

import numpy as np
import pytest
import torch

from sklatent import _speech


@pytest.fixture
def espeak():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def test_a_recording_is_one_deterministic_second_at_16_khz(espeak):
    waveform = _speech.synthesise("seven", "en-us+f2")
    assert waveform.shape == (_speech.N_SAMPLES,) and waveform.dtype == np.float32
    assert np.abs(waveform).max() <= 1.0
    assert abs(waveform[0]) > _speech._SILENCE  # leading silence is trimmed
    length = np.flatnonzero(waveform)[-1]
    assert 0.2 * _speech.SAMPLE_RATE < length < 0.9 * _speech.SAMPLE_RATE
    _speech.synthesise("eight", "en+m3")  # no state carried between recordings
    np.testing.assert_array_equal(_speech.synthesise("seven", "en-us+f2"), waveform)
    fast = _speech.synthesise("seven", "en-us+f2", speed=220)
    assert np.flatnonzero(fast)[-1] < length
    for other in [
        _speech.synthesise("seven", "en-gb-scotland+m3"),
        _speech.synthesise("seven", "en-us+f2", pitch=70),
        _speech.synthesise("eight", "en-us+f2"),
    ]:
        assert not np.array_equal(other, waveform)


def test_voices_and_words():
    assert len(set(_speech.VOICES)) == len(_speech.VOICES) >= 100
    assert len(set(_speech.WORDS)) == len(_speech.WORDS) == 40


@pytest.mark.parametrize("voice", ["en-xx+f9", "en-us", "en-us+nonsense"])
def test_unknown_voice(voice):
    with pytest.raises(ValueError, match=r"Unknown voice '.*': a voice is an accent"):
        _speech.synthesise("go", voice)


def test_missing_espeak_names_the_package_and_the_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(
        ImportError, match=r"needs espeak-ng.*`apt-get install espeak-ng`"
    ):
        _speech.synthesise("go", "en-us+f2")


def test_renditions_cover_voices_and_words_at_drawn_speeds_and_pitches(espeak):
    voices = ["en-us+m1", "en+f3"]
    data = _speech.renditions(voices, 2, random_state=0)
    n = len(voices) * len(_speech.WORDS) * 2
    assert data["waveforms"].shape == (n, _speech.N_SAMPLES)
    np.testing.assert_array_equal(data["voice"], np.repeat([0, 1], n // 2))
    np.testing.assert_array_equal(data["word"][:4], [0, 0, 1, 1])
    assert data["speed"].min() >= _speech.SPEEDS[0]
    assert data["speed"].max() <= _speech.SPEEDS[1]
    assert data["pitch"].min() >= _speech.PITCHES[0]
    assert data["pitch"].max() <= _speech.PITCHES[1]
    assert len(np.unique(data["speed"])) > 10
    row = 2 * len(_speech.WORDS) + 5  # voice 1, word 2, second rendition
    expected = _speech.synthesise(
        "two", "en+f3", speed=data["speed"][row], pitch=data["pitch"][row]
    )
    np.testing.assert_array_equal(data["waveforms"][row], expected)


def test_mel_filters_are_triangles_covering_the_band():
    filterbank = _speech.mel_filterbank(40, 400, 16_000, 20.0, 8000.0)
    assert filterbank.shape == (40, 201) and filterbank.min() == 0.0
    assert (filterbank.max(axis=1) > 0.5).all()  # no filter falls between bins
    assert filterbank.max() <= 1.0
    peaks = filterbank.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] > peaks[0]
    # Neighbouring triangles overlap by half: the weights sum to 1 inside.
    inside = filterbank[:, 5:185].sum(axis=0)  # 200 Hz to 7.4 kHz
    np.testing.assert_allclose(inside, 1.0, atol=1e-9)


def test_a_pure_tone_lands_in_its_mel_band():
    time = np.arange(_speech.N_SAMPLES) / _speech.SAMPLE_RATE
    edges = _speech._mel_to_hz(
        np.linspace(_speech._hz_to_mel(20), _speech._hz_to_mel(8000), 42)
    )
    for frequency in [300.0, 1000.0, 4000.0]:
        tone = np.sin(2 * np.pi * frequency * time).astype(np.float32)
        features = _speech.LogMel()(torch.from_numpy(tone[None]))[0]
        assert features.shape == (40, 101)
        band = int(features.mean(dim=1).argmax())
        assert edges[band] < frequency < edges[band + 2]


def _log_mel_reference(waveforms, n_fft=400, hop=160):
    """The log-mel features in float64 numpy: reflect-padded frames, rfft."""
    padded = np.pad(
        waveforms.astype(np.float64), ((0, 0), (n_fft // 2,) * 2), "reflect"
    )
    n_frames = 1 + (padded.shape[1] - n_fft) // hop
    frames = np.stack(
        [padded[:, t * hop : t * hop + n_fft] for t in range(n_frames)], 1
    )
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(frames * window, axis=2)) ** 2  # (n, frames, bins)
    filterbank = _speech.mel_filterbank(40, n_fft, 16_000, 20.0, 8000.0)
    return np.log(np.einsum("mb,ntb->nmt", filterbank, power) + 1e-6)


def test_log_mel_in_float32_matches_a_float64_reference():
    rng = np.random.RandomState(0)
    # Loud low-frequency content with quiet high bands, as in speech, plus an
    # offset far from zero (a DC bias).
    time = np.arange(4000) / _speech.SAMPLE_RATE
    waveforms = (
        0.5
        + 0.4 * np.sin(2 * np.pi * 220 * time)
        + 1e-3 * rng.standard_normal((3, 4000))
    ).astype(np.float32)
    expected = _log_mel_reference(waveforms)
    module = _speech.LogMel()
    actual = module(torch.from_numpy(waveforms)).numpy()
    assert actual.dtype == np.float32 and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, atol=2e-3)
