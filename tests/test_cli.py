"""The `qa` command as a user runs it: a real subprocess, checked for exit codes,
Dutch messages and no tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_qa(*args, cwd, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A working directory with a small corpus, indexed once by `qa index`."""
    work = tmp_path_factory.mktemp("work")
    corpus = work / "corpus"
    corpus.mkdir()
    (corpus / "wijkteam.txt").write_text(
        "Het wijkteam in Zuidhaven\n"
        "Het wijkteam in Zuidhaven bestaat uit twaalf medewerkers. Zij werken vanuit het buurthuis.\n"
        "Elke dinsdag houdt het team een open spreekuur voor bewoners met vragen over geld.\n",
        encoding="utf-8")
    (corpus / "ruis.txt").write_bytes(b"\x00\xff\x00binary")
    result = run_qa("index", cwd=work)
    assert result.returncode == 0, result.stderr
    assert "2 passages" in result.stdout
    assert "ruis.txt" in result.stderr and "binair" in result.stderr
    return work


@pytest.mark.slow      # runs qa in a subprocess that loads the model
def test_ask_json_prints_one_object_with_the_schema(workdir):
    result = run_qa("ask", "Uit hoeveel medewerkers bestaat het wijkteam in Zuidhaven?", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert not data["abstained"]
    assert "twaalf medewerkers" in data["answer"]
    assert data["citations"][0]["document"] == "wijkteam.txt"
    assert data["citations"][0]["section"] == "Het wijkteam in Zuidhaven"


@pytest.mark.slow      # runs qa in a subprocess that loads the model
def test_ask_readable_output_lists_sources(workdir):
    result = run_qa("ask", "Wanneer is het spreekuur van het wijkteam?", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "dinsdag" in result.stdout and "Bronnen:" in result.stdout and "[1] wijkteam.txt" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("question,message", [("  ", "Lege vraag"), ("x" * 2001, "te lang")])
def test_bad_questions_are_usage_errors_without_traceback(workdir, question, message):
    result = run_qa("ask", question, cwd=workdir)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow      # runs qa in a subprocess that loads the model
def test_missing_corpus_is_a_clear_error(tmp_path):
    result = run_qa("index", "--corpus", str(tmp_path / "bestaat-niet"), cwd=tmp_path)
    assert result.returncode == 1
    assert "bestaat niet" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow      # runs qa in a subprocess that loads the model
def test_unloadable_embedder_is_a_clear_error(tmp_path):
    result = run_qa("index", "--embedder", str(tmp_path), cwd=tmp_path,
                    env_extra={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    assert "kan niet worden geladen" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow      # runs qa in a subprocess that loads the model
def test_eval_writes_results_and_metrics(workdir):
    questions = workdir / "vragen.jsonl"
    questions.write_text(
        json.dumps({"id": "a", "question": "Uit hoeveel medewerkers bestaat het wijkteam?", "answerable": True,
                    "evidence": ["bestaat uit twaalf medewerkers"], "keywords": ["twaalf"]}) + "\n"
        + "dit is geen json\n"
        + json.dumps({"id": "b", "question": "Wat is de hoofdstad van Peru?", "answerable": False}) + "\n",
        encoding="utf-8")
    result = run_qa("eval", str(questions), "--out", "uit", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "regel 2" in result.stderr
    metrics = json.loads((workdir / "uit" / "metrics.json").read_text())
    assert metrics["n_questions"] == 2
    assert metrics["hit@1"] == 1.0 and metrics["abstention_unanswerable"] == 1.0
    lines = (workdir / "uit" / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["a", "b"]
    assert "hit@1" in result.stdout


def test_damaged_index_is_a_dutch_error_verify_names_it_and_qa_index_repairs(tmp_path, base_settings, embedder):
    """Junk in sentence_vectors.npy: loading says so in Dutch (no numpy traceback),
    `qa index --verify` names the file and exits 1 without rebuilding, `qa index` repairs.
    The index is first built in-process (one model load less)."""
    from qa.index import build_index, load_index

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "wijkteam.txt").write_text(
        "Het wijkteam in Zuidhaven\nHet wijkteam in Zuidhaven bestaat uit twaalf medewerkers.\n", encoding="utf-8")
    settings = base_settings.replace(corpus=corpus, index=tmp_path / "index")
    index, _ = build_index(settings, embedder, progress=False)
    vectors = np.array(index.sentence_vectors)            # a copy: the memory-mapped file is damaged below
    result = run_qa("index", "--verify", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Collectie standaard (index): in orde (12 bestanden gecontroleerd)\n"

    damaged = index.directory / "sentence_vectors.npy"
    junk = (b"\x80\x04junk" * damaged.stat().st_size)[:damaged.stat().st_size]   # numpy: "pickled data"
    damaged.write_bytes(junk)
    # sizes only (as for a build above verify_on_load_mb): the read error itself is reported
    result = run_qa("ask", "Hoeveel medewerkers?", cwd=tmp_path, env_extra={"VRAAGBAAK_VERIFY_ON_LOAD_MB": "0"})
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "Fout: De index in 'index' is beschadigd: sentence_vectors.npy kan niet gelezen worden. "
        "Controleer hem met: qa index --verify; herstel hem met: qa index")
    assert "Traceback" not in result.stderr and "pickle" not in result.stderr

    result = run_qa("index", "--verify", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["Collectie standaard (index): BESCHADIGD",
                                          "  - sentence_vectors.npy is gewijzigd (de controlesom klopt niet)",
                                          "Herstel de index met: qa index"]
    assert damaged.read_bytes() == junk                                      # --verify never rebuilds

    result = run_qa("index", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert run_qa("index", "--verify", cwd=tmp_path).returncode == 0
    repaired = load_index(settings.index, settings)
    assert [p.text for p in repaired.passages] == [p.text for p in index.passages]
    assert np.allclose(repaired.sentence_vectors, vectors, atol=1e-5)


# --------------------------------------------------------------------------- argparse in Dutch


@pytest.mark.parametrize("args,usage,error", [
    (["ask"], "gebruik: qa ask ", "qa ask: fout: deze argumenten ontbreken: question"),
    ([], "gebruik: qa ", "qa: fout: deze argumenten ontbreken: COMMANDO"),
    (["ask", "vraag", "--onzin"], "gebruik: qa ", "qa: fout: onbekende argumenten: --onzin"),
    (["vraag"], "gebruik: qa ",
     "qa: fout: argument COMMANDO: ongeldige keuze: 'vraag' (kies uit 'index', 'ask', 'eval', 'serve', "
     "'feedback', 'widget', 'lti')"),
    (["ask", "vraag", "--retriever", "grep"], "gebruik: qa ask ",
     "qa ask: fout: argument --retriever: ongeldige keuze: 'grep' (kies uit 'hybrid', 'dense', 'bm25')"),
    (["ask", "vraag", "--top-k"], "gebruik: qa ask ", "qa ask: fout: argument --top-k: verwacht één waarde"),
    (["ask", "vraag", "--top-k", "tien"], "gebruik: qa ask ",
     "qa ask: fout: argument --top-k: ongeldige waarde 'tien' (verwacht: geheel getal)"),
])
def test_argparse_errors_are_dutch_with_exit_2(tmp_path, args, usage, error):
    result = run_qa(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(usage)
    assert result.stderr.rstrip("\n").splitlines()[-1] == error
    for english in ("usage:", "error:", "required", "unrecognized", "invalid", "expected", "choose"):
        assert english not in result.stderr


def test_unknown_argparse_message_passes_through_unchanged():
    from qa.cli import dutch_message

    assert dutch_message("iets heel anders") == "iets heel anders"
    assert dutch_message("argument --x: iets heel anders") == "argument --x: iets heel anders"
    assert dutch_message("argument --x: expected 2 arguments") == "argument --x: verwacht 2 waarden"


def test_help_is_dutch(tmp_path):
    result = run_qa("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("gebruik: qa ")
    assert "\npositionele argumenten:\n" in result.stdout and "\nopties:\n" in result.stdout
    assert "toon deze hulp en stop" in result.stdout
    sub = run_qa("ask", "--help", cwd=tmp_path)
    assert sub.stdout.startswith("gebruik: qa ask ") and "\nopties:\n" in sub.stdout
    for english in ("usage:", "positional arguments", "options:", "show this help"):
        assert english not in result.stdout + sub.stdout


def test_widget_snippet_prints_only_html_on_stdout_with_default_colour_and_title(tmp_path):
    """`qa widget snippet > snippet.html` works: stdout is the snippet (script tag, a comment,
    iframe), the instructions and VRAAGBAAK_ALLOWED_ORIGINS go to stderr; without --color
    and --title the widget's defaults are used."""
    from html.parser import HTMLParser

    from qa.web.widget import DEFAULT_COLOR, DEFAULT_TITLE

    result = run_qa("widget", "snippet", "--origin", "https://moodle.example.nl",
                    "--host-url", "https://vraagbaak.example.nl", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith('<script src="https://vraagbaak.example.nl/widget.js" ')
    assert lines[0].endswith("></script>")
    assert lines[1].startswith("<!--") and lines[1].endswith("-->")
    assert lines[2].startswith('<iframe src="https://vraagbaak.example.nl/widget?') and lines[2].endswith("</iframe>")

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.text = [], ""

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

        def handle_data(self, data):
            self.text += data

    parsed = Tags()
    parsed.feed(result.stdout)
    assert [tag for tag, _ in parsed.tags] == ["script", "iframe"]
    assert parsed.text.strip() == ""                                        # no prose on stdout
    script = parsed.tags[0][1]
    assert script["data-color"] == DEFAULT_COLOR == "#1d4ed8"
    assert script["data-title"] == DEFAULT_TITLE
    assert "color=%231d4ed8" in parsed.tags[1][1]["src"]

    assert "Plak deze HTML in de leeromgeving" in result.stderr
    assert "VRAAGBAAK_ALLOWED_ORIGINS=https://moodle.example.nl" in result.stderr.splitlines()
    assert "<script" not in result.stderr

    bad = run_qa("widget", "snippet", "--origin", "https://moodle.example.nl", "--color", "blauw", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "Fout: Ongeldige kleur 'blauw': gebruik een hexkleur" in bad.stderr
    helptext = run_qa("widget", "snippet", "--help", cwd=tmp_path).stdout
    assert DEFAULT_COLOR in helptext and f"'{DEFAULT_TITLE}'" in helptext    # the help names the defaults
