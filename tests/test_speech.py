"""Spoken words synthesised by espeak-ng, and their log-mel features."""

import shutil

import numpy as np
import pytest
import torch

from sklatent import _speech, datasets


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
    assert set(data) == {"word", "voice", "speed", "pitch"}
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
    rows = {key: values[row - 1 : row + 1] for key, values in data.items()}
    recordings = _speech.waveforms(rows, voices)
    assert recordings.shape == (2, _speech.N_SAMPLES)
    np.testing.assert_array_equal(recordings[1], expected)


def test_mel_filters_are_triangles_covering_the_band():
    filterbank = _speech.mel_filterbank(40, 512, 16_000, 20.0, 8000.0)
    assert filterbank.shape == (40, 257) and filterbank.min() == 0.0
    assert (filterbank.max(axis=1) > 0.5).all()  # no filter falls between bins
    assert filterbank.max() <= 1.0
    peaks = filterbank.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] > peaks[0]
    # Neighbouring triangles overlap by half: the weights sum to 1 inside.
    inside = filterbank[:, 3:235].sum(axis=0)  # 94 Hz to 7.3 kHz
    np.testing.assert_allclose(inside, 1.0, atol=1e-9)


def test_a_pure_tone_lands_in_its_mel_band():
    time = np.arange(_speech.N_SAMPLES) / _speech.SAMPLE_RATE
    edges = _speech._mel_to_hz(
        np.linspace(_speech._hz_to_mel(20), _speech._hz_to_mel(8000), 42)
    )
    for frequency in [300.0, 1000.0, 4000.0]:
        tone = np.sin(2 * np.pi * frequency * time).astype(np.float32)
        features = _speech.LogMel()(torch.from_numpy(tone[None]))[0]
        assert features.shape == (40, 51)
        band = int(features.mean(dim=1).argmax())
        assert edges[band] < frequency < edges[band + 2]


def _log_mel_reference(waveforms, n_fft=512, hop=320):
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


# --------------------------------------------------------------------------
# The encoders and load_speech_embeddings
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(_speech.ENCODERS))
def test_each_encoder_embeds_log_mels_and_waveforms(name):
    _, width, _, _, _ = _speech.ENCODERS[name]
    encoder = _speech.build_encoder(name).eval()
    features = torch.randn(3, 40, 51)
    assert encoder(features).shape == (3, width)
    waveforms = torch.from_numpy(np.random.RandomState(0).uniform(-1, 1, (2, 16000)))
    embedding = _speech.waveform_encoder(encoder)(waveforms.float())
    assert embedding.shape == (2, width) and embedding.dtype == torch.float32


def test_split_holds_out_whole_voices_of_every_accent():
    rows, train, test = datasets._speech_split(0.3, 0)
    n = len(_speech.VOICES) * len(_speech.WORDS)
    assert len(rows["word"]) == n
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(n))
    train_voices, test_voices = set(rows["voice"][train]), set(rows["voice"][test])
    assert not train_voices & test_voices
    assert len(test_voices) == round(0.3 * len(_speech.VOICES))
    accents = {_speech.VOICES[v].split("+")[0] for v in test_voices}
    assert accents == set(_speech.ACCENTS)
    again, _, test_again = datasets._speech_split(0.3, 0)
    np.testing.assert_array_equal(test_again, test)
    np.testing.assert_array_equal(again["speed"], rows["speed"])
    assert not np.array_equal(datasets._speech_split(0.3, 1)[2], test)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"encoders": "wav2vec"}, r"Unknown encoder name\(s\) \['wav2vec'\]"),
        ({"test_size": 0.0}, r"test_size=0.0 must be a float strictly between"),
        ({"test_size": 1}, r"test_size=1 must be a float strictly between"),
        ({"test_size": True}, r"test_size=True must be a float"),
        ({"random_state": -1}, r"random_state must be an int between 0"),
    ],
)
def test_invalid_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        datasets.load_speech_embeddings(data_home=tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_loader_without_espeak_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match=r"`apt-get install espeak-ng`"):
        datasets.load_speech_embeddings(encoders="speech-stats", data_home=tmp_path)


@pytest.fixture
def fake_speech(monkeypatch):
    """Small stand-ins for the features and the training; returns the calls."""
    calls = []

    def log_mels(rows, voices):
        calls.append("features")
        return torch.zeros((len(rows["word"]), 40, 8))

    def train_encoder(name, features, target, train, test, random_state):
        calls.append(name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(random_state)
            encoder = _speech.build_encoder(name).eval()
        rng = np.random.default_rng(random_state)
        width = _speech.ENCODERS[name][1]
        return encoder, rng.standard_normal((len(features), width), np.float32), 1.0

    monkeypatch.setattr(_speech, "log_mels", log_mels)
    monkeypatch.setattr(_speech, "train_encoder", train_encoder)
    return calls


def test_bunch_cache_and_load_encoder(fake_speech, tmp_path, monkeypatch):
    data = datasets.load_speech_embeddings(data_home=tmp_path)
    assert fake_speech == ["features", *_speech.ENCODERS]  # features made once
    n = len(_speech.VOICES) * len(_speech.WORDS)
    assert {k: v.shape for k, v in data.embeddings.items()} == {
        "speech-cnn": (n, 64),
        "speech-stats": (n, 48),
        "speech-frames": (n, 32),
    }
    assert data.words == list(_speech.WORDS) and data.target.shape == (n,)
    assert data.voices.shape == data.speeds.shape == data.pitches.shape == (n,)
    assert data.voices[0] == _speech.VOICES[0]
    assert not set(data.voices[data.train_indices]) & set(
        data.voices[data.test_indices]
    )
    assert "160 voices" in data.DESCR and "speech-frames: frame encoder" in data.DESCR
    again = datasets.load_speech_embeddings(
        encoders=["speech-stats", "speech-cnn"], data_home=tmp_path
    )
    assert len(fake_speech) == 4 and again.encoder_names == [
        "speech-stats",
        "speech-cnn",
    ]
    np.testing.assert_array_equal(
        again.embeddings["speech-cnn"], data.embeddings["speech-cnn"]
    )
    # load_encoder reads the encoder cached under the default parameters.
    monkeypatch.setenv("SKLATENT_DATA_HOME", str(tmp_path))
    encoder = datasets.load_encoder("speech-stats", batch_size=2)
    assert len(fake_speech) == 4 and encoder.n_features_in_ == _speech.N_SAMPLES
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        expected = _speech.build_encoder("speech-stats").eval()
    waveforms = np.random.RandomState(0).uniform(-0.5, 0.5, (3, 16000))
    with torch.no_grad():
        reference = expected(_speech.LogMel()(torch.from_numpy(waveforms).float()))
    np.testing.assert_allclose(encoder.transform(waveforms), reference, atol=1e-5)
    with pytest.raises(ValueError, match="X has 8000 features, but EncoderTransformer"):
        encoder.transform(waveforms[:, :8000])


def test_damaged_file_is_named_and_rebuilt(fake_speech, tmp_path):
    datasets.load_speech_embeddings(encoders="speech-frames", data_home=tmp_path)
    (path,) = tmp_path.glob("speech_*speech-frames*.npz")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(RuntimeWarning, match=r"cannot be read.*It is rebuilt now"):
        datasets.load_speech_embeddings(encoders="speech-frames", data_home=tmp_path)
    assert fake_speech == ["features", "speech-frames"] * 2


@pytest.mark.slow
def test_a_small_real_build_hears_new_voices(espeak, tmp_path, monkeypatch, capsys):
    voices = tuple(f"{a}+{v}" for a in ("en-us", "en") for v in _speech.VARIANTS)
    monkeypatch.setattr(_speech, "VOICES", voices)
    data = datasets.load_speech_embeddings(
        encoders=["speech-stats"], data_home=tmp_path, verbose=True
    )
    assert "accuracy on held-out voices" in capsys.readouterr().err
    from sklearn.linear_model import LogisticRegression

    X, y = data.embeddings["speech-stats"], data.target
    train, test = data.train_indices, data.test_indices
    head = LogisticRegression(max_iter=1000).fit(X[train], y[train])
    assert head.score(X[test], y[test]) > 0.8  # chance is 1 / 40
    monkeypatch.setenv("SKLATENT_DATA_HOME", str(tmp_path))
    encoder = datasets.load_encoder("speech-stats")
    rows = {
        key: values[test[:4]]
        for key, values in datasets._speech_split(0.3, 0)[0].items()
    }
    embedded = encoder.transform(_speech.waveforms(rows, voices))
    np.testing.assert_allclose(embedded, X[test[:4]], atol=1e-4)
