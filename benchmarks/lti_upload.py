"""Time from an instructor's upload of a 50-page PDF (LTI course page) to the first answer from it.

    .venv/bin/python benchmarks/lti_upload.py [--pages 50] [--keep] [--no-other-learner]

Starts `qa serve` on a free loopback port over a temporary corpus (one small default
document), registers a simulated LTI platform (tests/lti/platform.py: its own RSA key and
JWKS on another loopback port) with `qa lti add-platform`, launches as an instructor
(login -> signed launch, over HTTP) and uploads a first small document and waits for it.
Then, timed from just before the upload request of a generated `--pages`-page PDF (fpdf2,
three paragraphs per page, one fact on page 37 or the last page) until a learner of the course
gets an answer citing that PDF:
* upload request (the POST returns once the file is stored and the build is started);
* build done (the instructor's document list shows the PDF indexed, and its passages);
* first answer from the PDF (a learner asks every 0.2 s; answers from the previous build,
  or none, do not count).
Meanwhile a second learner asks about the first document back to back (unless --no-other-learner: then
nothing else runs, the idle figure): every status code,
and the latency p50 / max during the build, show whether learners were held up.
A measuring script: it prints figures, asserts nothing. Each run starts and stops its server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from fpdf import FPDF

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lti.platform import INSTRUCTOR, LEARNER, SimPlatform  # noqa: E402

TOPICS = ["huisbezoeken", "dossiervorming", "intervisie", "privacy", "wijkteams", "mantelzorg", "schuldhulp",
          "jeugdbescherming", "veiligheidsplannen", "netwerkberaad"]
FACT = ("De maximale wachttijd voor een eerste gesprek met de vertrouwensinspecteur bedraagt "
        "elf werkdagen na de aanmelding.")
QUESTION = "Wat is de maximale wachttijd voor een eerste gesprek met de vertrouwensinspecteur?"
FIRST_DOC = "Werkwijze\n\nHet teamoverleg van de praktijkbegeleiders vindt elke donderdagochtend plaats.\n"
FIRST_QUESTION = "Wanneer vindt het teamoverleg van de praktijkbegeleiders plaats?"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pdf(path: Path, pages: int) -> int:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    fact_page = 37 if pages >= 37 else pages
    for n in range(1, pages + 1):
        pdf.add_page()
        topic = TOPICS[n % len(TOPICS)]
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, f"Hoofdstuk {n}: {topic}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        for k in range(3):
            text = (f"In paragraaf {n}.{k + 1} over {topic} beschrijven we hoe het team in week {n + k} "
                    f"de afspraken over {TOPICS[(n + k) % len(TOPICS)]} vastlegt. Medewerkers noteren "
                    f"in het dossier welke stappen zijn gezet en wie verantwoordelijk is voor stap {k + 2}. "
                    f"Een collega controleert dit binnen {k + 3} dagen en bespreekt afwijkingen in het overleg.")
            if n == fact_page and k == 1:
                text = FACT + " " + text
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return fact_page


class Serve:
    def __init__(self, folder: Path, platform: SimPlatform):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VRAAGBAAK_")}
        values = {"corpus": folder / "corpus", "index": folder / "index", "lti_dir": folder / "lti",
                  "port": self.port, "feedback_db": folder / "feedback.sqlite3", "secret_file": folder / "secret.key",
                  "lti_max_upload_mb": 50, "rate_limit_per_minute": 100000, "rate_limit_session_per_minute": 100000,
                  "rate_limit_per_day": 1000000, "rate_limit_global_per_minute": 100000}
        env.update({f"VRAAGBAAK_{k.upper()}": str(v) for k, v in values.items()})
        subprocess.run([sys.executable, "-m", "qa.cli", "lti", "add-platform", "--issuer", platform.issuer,
                        "--client-id", platform.client_id, "--deployment-id", platform.deployment_id,
                        "--auth-login-url", platform.url + "/auth", "--auth-token-url", platform.url + "/token",
                        "--jwks-url", platform.url + "/jwks"], env=env, check=True, cwd=folder, capture_output=True)
        self.log = open(folder / "serve.log", "w")
        self.process = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve"], cwd=folder, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"qa serve stopped: see {folder / 'serve.log'}")
            try:
                if httpx.get(self.url + "/config", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit("qa serve did not start")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def launch(client: httpx.Client, platform: SimPlatform, roles, sub: str, course: dict) -> tuple[str, str]:
    login = client.get("/lti/login", params={"iss": platform.issuer, "login_hint": sub, "client_id": platform.client_id})
    params = {k: v[0] for k, v in parse_qs(urlsplit(login.headers["location"]).query).items()}
    token = platform.sign(platform.claims(params["nonce"], sub=sub, roles=roles, context=course))
    redirect = client.post("/lti/launch", data={"id_token": token, "state": params["state"]},
                           headers={"Origin": platform.url})
    session = redirect.headers["location"].split("#s=", 1)[1]     # 303 to /lti/course#s=<session>
    info = client.get("/lti/session", headers={"X-Vraagbaak-LTI": session}).json()
    return session, info["csrf"]


def wait_indexed(client, token, name, timeout=1800) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = client.get("/lti/documents", headers={"X-Vraagbaak-LTI": token}).json()
        doc = {d["name"]: d for d in data["documents"]}.get(name)
        if doc and doc["status"] == "geïndexeerd" and data["build"]["state"] in ("done", "idle"):
            return doc
        time.sleep(0.25)
    raise SystemExit(f"{name} not indexed in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--no-other-learner", action="store_true",
                        help="nobody else asks during the build (the idle upload-to-answer figure)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vb-lti-bench-"))
    (folder / "corpus").mkdir()
    (folder / "corpus" / "algemeen.txt").write_text("Algemeen\n\nDeze server dient de cursussen.\n", encoding="utf-8")
    pdf_path = folder / f"Handboek {args.pages} pagina's.pdf"
    fact_page = make_pdf(pdf_path, args.pages)
    platform = SimPlatform()
    started = time.perf_counter()
    server = Serve(folder, platform)
    platform.tool_url = server.url
    print(f"qa serve started in {time.perf_counter() - started:.1f} s (not part of any figure below)")
    course = {"id": "bench-course", "title": "Benchmark cursus"}
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            teacher, csrf = launch(client, platform, INSTRUCTOR, "bench-teacher", course)
            client.post("/lti/documents", files={"file": ("werkwijze.txt", FIRST_DOC.encode())},
                        data={"csrf": csrf}, headers={"X-Vraagbaak-LTI": teacher}).raise_for_status()
            wait_indexed(client, teacher, "werkwijze.txt")
            learner, _ = launch(client, platform, LEARNER, "bench-student", course)
            other, _ = launch(client, platform, LEARNER, "bench-student-2", course)

            stop = threading.Event()
            during: list[tuple[int, float]] = []

            def keep_asking():
                with httpx.Client(base_url=server.url, timeout=120) as c:
                    while not stop.is_set():
                        t = time.perf_counter()
                        r = c.post("/lti/ask", json={"question": FIRST_QUESTION}, headers={"X-Vraagbaak-LTI": other})
                        during.append((r.status_code, time.perf_counter() - t))

            asker = threading.Thread(target=keep_asking, daemon=True)
            if not args.no_other_learner:
                asker.start()
            data = pdf_path.read_bytes()
            t0 = time.perf_counter()
            response = client.post("/lti/documents", files={"file": (pdf_path.name, data, "application/pdf")},
                                   data={"csrf": csrf}, headers={"X-Vraagbaak-LTI": teacher})
            t_upload = time.perf_counter() - t0
            response.raise_for_status()
            name = response.json()["name"]
            t_built = None
            passages = None
            t_answer = None
            answer = None
            while t_answer is None and time.perf_counter() - t0 < 1800:
                if t_built is None:
                    listing = client.get("/lti/documents", headers={"X-Vraagbaak-LTI": teacher}).json()
                    doc = {d["name"]: d for d in listing["documents"]}.get(name)
                    if doc and doc["status"] == "geïndexeerd" and listing["build"]["state"] in ("done", "idle"):
                        t_built, passages = time.perf_counter() - t0, doc["passages"]
                r = client.post("/lti/ask", json={"question": QUESTION}, headers={"X-Vraagbaak-LTI": learner})
                if r.status_code == 200 and any(c["document"] == name for c in r.json()["citations"]):
                    t_answer, answer = time.perf_counter() - t0, r.json()
                    break
                time.sleep(0.2)
            stop.set()
            if asker.is_alive():
                asker.join(timeout=120)
    finally:
        server.stop()
        platform.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"PDF: {args.pages} pages, {len(data) / 1024:.0f} kB, fact on page {fact_page}")
    print(f"upload request (stored, build started):   {t_upload:6.2f} s")
    print(f"build done (document list: indexed):      {t_built:6.2f} s" if t_built else "build done: not seen")
    print(f"passages of the PDF:                      {passages}")
    if t_answer is None:
        print("first answer from the PDF: none within 30 minutes")
    else:
        cite = next(c for c in answer["citations"] if c["document"] == name)
        print(f"first answer from the PDF:                {t_answer:6.2f} s  (cites p. {cite['page']}: "
              f"{answer['answer'][:80]!r})")
    codes = sorted({code for code, _ in during})
    lat = [s for _, s in during]
    if lat:
        print(f"other learner from upload to first answer: {len(lat)} questions, status codes {codes}, "
              f"latency p50 {statistics.median(lat) * 1000:.0f} ms, "
              f"p95 {sorted(lat)[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
