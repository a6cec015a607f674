"""P4, data gathering: CSV/JSON files read into typed tables (inference, overrides, dates, missing values, one-line
errors), a JSON API fetched over HTTP from a real local server (pages, timeouts, retries, size limit, non-JSON), the
offline table datasets, and ``genlab inspect`` / ``genlab fetch``. Never the internet."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import torch
from typer.testing import CliRunner

from genlab.cli.main import app
from genlab.data import load
from genlab.data.tabular.http import fetch_json, fetch_table
from genlab.data.tabular.read import infer_type, parse_types, read_table, table_from_records
from genlab.errors import ConfigError

MIXED = ("id,name,when,ok,score,kids\n"
         "1,ann,2020-01-02,yes,3.5,0\n"
         "2,bob,2020-01-03,no,,1\n"
         "3,cy,2020-02-01T10:30:00,yes,4.25,2\n"
         "4,ann,2021-12-31,no,1.0,0\n")


def _file(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


# --- reading files ---------------------------------------------------------------------------------------------
def test_each_type_is_inferred_from_the_cells(tmp_path):
    t = read_table(_file(tmp_path, MIXED))
    assert t.types == {"id": "numeric", "name": "categorical", "when": "datetime", "ok": "boolean",
                       "score": "numeric", "kids": "numeric"}  # few distinct whole numbers stay numeric
    assert str(t.frame["when"].dtype).startswith("datetime64")
    assert t.frame["ok"].tolist() == [True, False, True, False]


def test_inference_of_text_columns():
    import pandas as pd

    assert infer_type(pd.Series(["True", "false", None])) == "boolean"
    assert infer_type(pd.Series(["1", "0", "1"])) == "boolean"
    assert infer_type(pd.Series(["2012/01/01", "2013/05/31"])) == "datetime"
    assert infer_type(pd.Series(["3.5", "4"])) == "numeric"
    assert infer_type(pd.Series(["yes", "no", "maybe"])) == "categorical"
    assert infer_type(pd.Series([2007, 2008, 2009])) == "numeric"


def test_overrides_of_types_and_dtypes_and_dates(tmp_path):
    t = read_table(_file(tmp_path, MIXED), types={"kids": "categorical"}, dtypes={"id": "str"}, dates=["when"])
    assert t.types["kids"] == "categorical" and t.types["id"] == "categorical"
    columns, numeric, categorical = read_table(_file(tmp_path, MIXED), types=parse_types("kids:categorical"),
                                               missing="drop").encode()
    by_name = {c["name"]: c for c in columns}
    assert by_name["kids"]["categories"] == ["0", "2"]  # the row with kids 1 was dropped
    assert by_name["when"]["dtype"] == "datetime"
    assert numeric.shape == (3, 3) and categorical.shape == (3, 3)
    t = read_table(_file(tmp_path, "a,b\n007,1\n010,0\n"), dtypes={"a": "str", "b": "bool"})
    assert t.frame["a"].tolist() == ["007", "010"] and t.types["b"] == "boolean"


def test_missing_values_are_reported_dropped_or_an_error(tmp_path):
    path = _file(tmp_path, MIXED)
    t = read_table(path)
    assert t.missing.counts["score"] == 1 and t.missing.rows == 1 and len(t.frame) == 4
    t = read_table(path, missing="drop")
    assert len(t.frame) == 3 and t.missing.dropped == 1 and "score 1" in t.missing.summary()
    with pytest.raises(ConfigError, match=r"column 'score' has 1 missing value\(s\), the first at line 3"):
        read_table(path, missing="error")


def test_json_records_and_lines_read_alike(tmp_path):
    records = [{"a": 1, "b": "x", "c": True}, {"a": 2.5, "b": "y", "c": False}, {"a": 3, "b": "x", "c": None}]
    t1 = read_table(_file(tmp_path, json.dumps(records), "r.json"))
    t2 = read_table(_file(tmp_path, "\n".join(map(json.dumps, records)) + "\n", "r.jsonl"))
    t3 = read_table(_file(tmp_path, "\n".join(map(json.dumps, records)), "lines.json"))  # lines in a .json file
    for t in (t1, t2, t3):
        assert t.types == {"a": "numeric", "b": "categorical", "c": "boolean"} and len(t.frame) == 3
        assert t.missing.counts["c"] == 1


@pytest.mark.parametrize("content, name, kwargs, message", [
    ("a,b\n1,2\n3,4,5\n", "t.csv", {}, r"t.csv line 3 has 3 field\(s\), the header 2"),
    (b"a,b\n1,caf\xe9\n", "t.csv", {}, r"t.csv is not utf-8 text: byte 9 .*encoding='latin-1'"),
    ("a,b\n1,2\nx,3\n", "t.csv", {"types": {"a": "numeric"}}, r"column 'a' is declared numeric but line 3 holds 'x'"),
    ("a,b\n1,2\n1.5,3\n", "t.csv", {"dtypes": {"a": "int"}}, r"column 'a' is declared int but line 3 holds '1.5'"),
    ("a,b\n1,2\n", "t.csv", {"types": {"c": "numeric"}}, r"has no column 'c' \(named in types\): its columns are a, b"),
    ("a,b\n1,2\n", "t.csv", {"dates": ["zz"]}, r"has no column 'zz' \(named in dates\): its columns are a, b"),
    ("a,b\n1,\n2,\n", "t.csv", {}, r"column 'b' has no values \(all 2 missing\): drop it"),
    ("", "t.csv", {}, r"t.csv is empty"),
    ("a,b\n", "t.csv", {}, r"has a header but no data rows"),
    ('{"data": [{"a": 1}], "count": 1}', "r.json", {}, r"one JSON object with keys 'data', 'count', not records"),
    ("[1, 2, 3]", "r.json", {}, r"record 1 is a JSON int, not an object"),
    ('[{"a": 1},', "r.json", {}, r"r.json line 1 column \d+: not valid JSON"),
    ('{"a": 1}\n[1]\n', "r.jsonl", {}, r"record 2 is a JSON list"),
    ("a,d\n1,2020-01-01\n2,soon\n", "t.csv", {"dates": ["d"]}, r"column 'd' is declared a date but line 3 holds"),
])
def test_bad_input_is_one_line_naming_where_and_what_to_do(tmp_path, content, name, kwargs, message):
    with pytest.raises(ConfigError, match=message) as e:
        read_table(_file(tmp_path, content, name), **kwargs)
    assert "\n" not in str(e.value)


def test_a_missing_file_and_another_encoding(tmp_path):
    with pytest.raises(ConfigError, match=r"nope.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    t = read_table(_file(tmp_path, b"a,b\n1,caf\xe9\n"), encoding="latin-1")
    assert t.frame["b"].tolist() == ["café"]


# --- HTTP against a local server ---------------------------------------------------------------------------------
class _Api(BaseHTTPRequestHandler):
    hits: dict = {}

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.hits[url.path] = self.hits.get(url.path, 0) + 1
        if url.path == "/numbered":  # ?page=1..3 hold records, then an empty page
            page = int(q["page"])
            self._send(200, [{"i": 2 * page + k, "when": f"2020-01-{page:02d}"} for k in range(2)] if page <= 3 else [])
        elif url.path == "/linked":  # {"results": [...], "next": link}
            p = int(q.get("p", 1))
            self._send(200, {"results": [{"i": p, "ok": p % 2 == 0}], "next": f"/linked?p={p + 1}" if p < 3 else None})
        elif url.path == "/slow":
            time.sleep(1.0)
            self._send(200, [{"i": 1}])
        elif url.path == "/flaky":
            if self.hits[url.path] <= 2:
                self._send(503, b"busy", "text/plain")
            else:
                self._send(200, [{"i": 1}, {"i": 2}])
        elif url.path == "/html":
            self._send(200, b"<!doctype html><html><body>hello</body></html>", "text/html; charset=utf-8")
        elif url.path == "/big":
            self._send(200, [{"i": k, "pad": "x" * 50} for k in range(200)])
        else:
            self._send(404, b"not here", "text/plain")


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def api(server):
    _Api.hits.clear()
    return server


def test_pages_by_page_number_stop_at_an_empty_page(api):
    records = fetch_json(f"{api}/numbered", page_param="page")
    assert [r["i"] for r in records] == [2, 3, 4, 5, 6, 7] and _Api.hits["/numbered"] == 4
    with pytest.raises(ConfigError, match=r"more than 2 pages"):
        fetch_json(f"{api}/numbered", page_param="page", pages=2)


def test_pages_by_next_link_follow_to_the_end(api):
    records = fetch_json(f"{api}/linked", next_key="next")
    assert [r["i"] for r in records] == [1, 2, 3]
    t = fetch_table(f"{api}/linked", next_key="next")
    assert t.types == {"i": "numeric", "ok": "boolean"}


def test_a_hang_is_a_timeout_naming_the_url_and_seconds(api):
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"/slow did not answer within 0.3 s \(2 tries\)"):
        fetch_json(f"{api}/slow", timeout=0.3, retries=1, backoff=0.01)
    assert time.perf_counter() - t0 < 1.5


def test_a_5xx_is_retried_with_backoff_until_it_succeeds(api):
    waits = []
    records = fetch_json(f"{api}/flaky", retries=3, backoff=0.5, sleep=waits.append)
    assert len(records) == 2 and _Api.hits["/flaky"] == 3 and waits == [0.5, 1.0]


def test_a_404_is_not_retried(api):
    with pytest.raises(ConfigError, match=r"/nothing answered HTTP 404 .*not retried"):
        fetch_json(f"{api}/nothing", retries=3, sleep=lambda s: None)
    assert _Api.hits["/nothing"] == 1


def test_html_and_oversized_bodies_are_refused(api):
    with pytest.raises(ConfigError, match=r"/html returned text/html; charset=utf-8, not JSON; it begins "
                                          r"'<!doctype html>"):
        fetch_json(f"{api}/html")
    with pytest.raises(ConfigError, match=r"/big .*max_bytes=1,000"):
        fetch_json(f"{api}/big", max_bytes=1000)


def test_fetch_writes_the_csv_only_after_all_pages(api, tmp_path):
    out = tmp_path / "got.csv"
    with pytest.raises(ConfigError):
        fetch_table(f"{api}/numbered", page_param="page", pages=2, save_to=out)
    assert not out.exists()
    t = fetch_table(f"{api}/numbered", page_param="page", save_to=out)
    back = read_table(out)
    assert len(back.frame) == 6 and back.types == t.types == {"i": "numeric", "when": "datetime"}


def test_records_become_a_table():
    t = table_from_records([{"a": {"x": 1}, "b": "u"}, {"a": {"x": 2}, "b": "v"}], source="api")
    assert set(t.frame.columns) == {"a.x", "b"} and t.types["a.x"] == "numeric"


# --- datasets ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, rows, n_numeric, categorical", [
    ("penguins", 333, 5, {"species": "str", "island": "str", "sex": "str"}),
    ("seattle-weather", 1_461, 5, {"weather": "str"}),
    ("fair", 6_366, 5, {"rate_marriage": "str", "religious": "str", "occupation": "str", "occupation_husb": "str"}),
    ("randhie", 20_190, 6, {"idp": "bool", "health": "str"}),
    ("breast-cancer", 569, 30, {"target": "str"}),
])
def test_each_dataset_loads_with_its_rows_columns_and_kinds(name, rows, n_numeric, categorical):
    splits = [load(name, split=s) for s in ("train", "val", "test")]
    assert sum(len(s) for s in splits) == rows
    d = splits[0]
    assert d.kind == "table" and d.fields["numeric"].shape[1] == n_numeric
    assert d.fields["numeric"].dtype == torch.float32 and d.fields["categorical"].dtype == torch.int64
    cats = {c["name"]: c["dtype"] for c in d.meta["columns"] if c["type"] == "categorical"}
    assert cats == categorical


def test_dataset_columns_as_documented():
    columns = {c["name"]: c for c in load("penguins", split="val").meta["columns"]}
    assert columns["year"]["dtype"] == "int"
    assert load("seattle-weather", split="val").meta["columns"][0] == {"name": "date", "type": "numeric",
                                                                      "categories": [], "dtype": "datetime"}
    fair = {c["name"]: c for c in load("fair", split="val").meta["columns"]}
    assert fair["rate_marriage"]["categories"][0] == "1 very poor" and fair["affairs"]["type"] == "numeric"
    cancer = load("breast-cancer", split="val").meta["columns"][-1]
    assert cancer["categories"] == ["benign", "malignant"]


def test_splits_are_disjoint_and_reproducible():
    rows = {s: load("penguins", split=s).fields["numeric"] for s in ("train", "val", "test")}
    keys = {s: {tuple(r.tolist()) for r in x} for s, x in rows.items()}
    assert len(rows["train"]) + len(rows["val"]) + len(rows["test"]) == 333
    assert not (set.intersection(keys["train"], keys["val"]) or set.intersection(keys["train"], keys["test"]))
    assert torch.equal(load("penguins", split="val").fields["numeric"], rows["val"])
    assert not torch.equal(load("penguins", split="val", seed=1).fields["numeric"], rows["val"])


def test_a_users_file_is_the_tabular_dataset(tmp_path):
    path = _file(tmp_path, "a,b,c\n" + "".join(f"{i},{'xyz'[i % 3]},{i % 2}\n" for i in range(30)))
    d = load("tabular", split="train", path=str(path), types="c:categorical")
    assert [c["type"] for c in d.meta["columns"]] == ["numeric", "categorical", "categorical"]
    with pytest.raises(ConfigError, match=r"has no column 'zz'"):
        load("tabular", path=str(path), types="zz:numeric")


# --- the CLI ------------------------------------------------------------------------------------------------------
def test_inspect_prints_types_missing_and_how_to_train(tmp_path):
    path = _file(tmp_path, MIXED)
    r = CliRunner().invoke(app, ["inspect", str(path), "--types", "kids:categorical"])
    assert r.exit_code == 0, r.output
    assert "4 rows, 6 columns" in r.output and "1 row(s) with a missing value (score 1)" in r.output
    assert any(line.split()[:2] == ["when", "datetime"] for line in r.output.splitlines())
    assert "2020-01-02" in r.output and "3 distinct: ann, bob, cy" in r.output
    assert f"--data tabular --set data.path={path} --set data.types=kids:categorical" in r.output
    r = CliRunner().invoke(app, ["inspect", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2 and "no such file" in r.output and "Traceback" not in r.output


def test_fetch_writes_a_csv_and_prints_its_summary(api, tmp_path):
    out = tmp_path / "api.csv"
    r = CliRunner().invoke(app, ["fetch", f"{api}/linked", "--out", str(out), "--next-key", "next"])
    assert r.exit_code == 0, r.output
    assert "wrote 3 rows" in r.output and "boolean" in r.output and out.exists()
    r = CliRunner().invoke(app, ["inspect", f"{api}/flaky"])
    assert r.exit_code == 0 and "2 rows, 1 columns" in r.output and "genlab fetch" in r.output, r.output
    r = CliRunner().invoke(app, ["fetch", f"{api}/html", "--out", str(tmp_path / "no.csv")])
    assert r.exit_code == 2 and "not JSON" in r.output and not (tmp_path / "no.csv").exists()
