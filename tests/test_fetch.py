"""Dataset fetchers against a local HTTP server: no internet, small generated archives.

The archives have the layout of the real ones (ml-100k, ml-1m, ml-10M100K, ml-latest-small,
frappe's libFM files) with a few invented rows; the URL and checksum tables are pointed at
a server on 127.0.0.1 that can also misbehave (drop the connection mid-body).
"""

import dataclasses
import hashlib
import io
import sys
import threading
import warnings
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pd = pytest.importorskip("pandas")

from fmlearn.datasets import (  # noqa: E402
    _cache,
    _registry,
    fetch_frappe,
    fetch_movielens,
    get_data_home,
)

# ----------------------------------------------------------------------------- archives
U_DATA = "1\t10\t5\t881250949\n2\t10\t3\t891717742\n1\t20\t1\t878887116\n"
U_USER = "1|24|M|technician|85711\n2|53|F|other|9404A\n"
U_ITEM = (
    "10|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)"
    "|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    '20|Café "Noir" (1996)|||' + "|1" + "|0" * 18 + "\n"
)
ML1M_RATINGS = "1::1193::5::978300760\n2::661::3::978302109\n"
ML1M_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n"
ML1M_MOVIES = "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
ML1M_MOVIES += "1193::Amélie: Le Fabuleux Destin (2001)::Comedy|Romance\n"
ML10M_RATINGS = "1::122::5::838985046\n1::185::4.5::838983525\n"
ML10M_MOVIES = "122::Boomerang (1992)::Comedy|Romance\n185::Net, The (1995)::Action\n"
SMALL_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n"
SMALL_MOVIES = 'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,"Net, The (1995)",'
SMALL_MOVIES += "(no genres listed)\n"


def _zip(folder: str, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(f"{folder}/README", b"generated for tests\n")
        for name, content in files.items():
            zf.writestr(f"{folder}/{name}", content)
    return buffer.getvalue()


ARCHIVES = {
    "100k": _zip(
        "ml-100k",
        {
            "u.data": U_DATA.encode(),
            "u.user": U_USER.encode(),
            "u.item": U_ITEM.encode("latin-1"),
        },
    ),
    "1m": _zip(
        "ml-1m",
        {
            "ratings.dat": ML1M_RATINGS.encode(),
            "users.dat": ML1M_USERS.encode(),
            "movies.dat": ML1M_MOVIES.encode("latin-1"),
        },
    ),
    "10m": _zip(
        "ml-10M100K",
        {"ratings.dat": ML10M_RATINGS.encode(), "movies.dat": ML10M_MOVIES.encode()},
    ),
    "latest-small": _zip(
        "ml-latest-small",
        {"ratings.csv": SMALL_RATINGS.encode(), "movies.csv": SMALL_MOVIES.encode()},
    ),
}
FRAPPE = {
    "train": b"1 0:1 7:1 5381:1\n-1 3:1 8:1\n",
    "validation": b"-1 1:1 9:1\n",
    "test": b"1 2:1 5000:1\n-1 4:1 6:1\n",
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----------------------------------------------------------------------------- server
class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.hits.append(self.path)
        if self.path not in server.routes:
            self.send_error(404)
            return
        body = server.routes[self.path]
        self.send_response(200)
        if server.mode != "truncate-no-length":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.mode.startswith("truncate"):  # send half, hang up
            body = body[: len(body) // 2]
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server:
    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes, self.httpd.hits, self.httpd.mode = {}, [], "ok"
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()
        self.running = True

    @property
    def hits(self):
        return self.httpd.hits

    def set_mode(self, mode):
        self.httpd.mode = mode

    def stop(self):
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.running = False


@pytest.fixture
def server(monkeypatch):
    """Serve the archives; point the fetchers' tables at them with their true digests."""
    srv = _Server()
    for variant, data in ARCHIVES.items():
        spec = _registry._MOVIELENS[variant]
        path = f"/movielens/{spec.remote.filename}"
        srv.httpd.routes[path] = data
        remote = _registry._Remote(srv.url + path, spec.remote.filename, sha256=_sha256(data))
        monkeypatch.setitem(_registry._MOVIELENS, variant, dataclasses.replace(spec, remote=remote))
    for split, data in FRAPPE.items():
        name = _registry._FRAPPE[split].filename
        srv.httpd.routes[f"/frappe/{name}"] = data
        remote = _registry._Remote(f"{srv.url}/frappe/{name}", name, sha256=_sha256(data))
        monkeypatch.setitem(_registry._FRAPPE, split, remote)
    yield srv
    srv.stop()


def _set_remote(monkeypatch, variant, **changes):
    spec = _registry._MOVIELENS[variant]
    remote = dataclasses.replace(spec.remote, **changes)
    monkeypatch.setitem(_registry._MOVIELENS, variant, dataclasses.replace(spec, remote=remote))


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*"))


# ----------------------------------------------------------------------------- MovieLens
def test_100k_first_download_parses_every_table(server, tmp_path):
    data = fetch_movielens("100k", data_home=tmp_path)
    ratings, users, items = data.ratings, data.users, data.items
    assert list(ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert [str(t) for t in ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    assert ratings.to_numpy().tolist() == [
        [1, 10, 5, 881250949],
        [2, 10, 3, 891717742],
        [1, 20, 1, 878887116],
    ]
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert users["age"].tolist() == [24, 53]
    assert users["gender"].dtype == "category"
    assert users["occupation"].tolist() == ["technician", "other"]
    assert users["zip_code"].tolist() == ["85711", "9404A"]  # kept as text
    assert list(items.columns) == ["item_id", "title", "genres", "release_date", "imdb_url"]
    assert items["title"].tolist() == ["Toy Story (1995)", 'Café "Noir" (1996)']  # latin-1
    assert items["genres"].tolist() == ["Animation|Children's|Comedy", "unknown"]
    assert items["release_date"].iloc[0] == pd.Timestamp("1995-01-01")
    assert pd.isna(items["release_date"].iloc[1])
    assert data.variant == "100k" and data.path == tmp_path / "movielens" / "ml-100k"
    assert "Harper" in data.DESCR
    # the archive is gone after extraction; no temporary file or folder is left
    assert _leftovers(tmp_path / "movielens") == [
        ".fmlearn-cache.json",
        "README",
        "ml-100k",
        "u.data",
        "u.item",
        "u.user",
    ]
    assert len(server.hits) == 1


def test_second_call_reads_the_cache_without_network(server, tmp_path):
    first = fetch_movielens("100k", data_home=tmp_path)
    server.stop()
    second = fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    for name in ("ratings", "users", "items"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    third = fetch_movielens("100k", data_home=tmp_path)  # download allowed, not needed
    pd.testing.assert_frame_equal(first.ratings, third.ratings)


def test_missing_cache_without_download_raises(server, tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    message = str(error.value)
    assert str(tmp_path / "movielens" / "ml-100k") in message
    assert "download_if_missing=True" in message and "ml-100k.zip" in message
    assert server.hits == []


def test_wrong_checksum_raises_and_leaves_no_cache(server, tmp_path, monkeypatch):
    _set_remote(monkeypatch, "100k", sha256="0" * 64)
    with pytest.raises(OSError, match="SHA-256") as error:
        fetch_movielens("100k", data_home=tmp_path)
    message = str(error.value)
    assert "0" * 64 in message and _sha256(ARCHIVES["100k"]) in message
    assert _leftovers(tmp_path / "movielens") == []
    assert len(server.hits) == 1  # a checksum failure is not retried


def test_wrong_size_raises_before_hashing(server, tmp_path, monkeypatch):
    _set_remote(monkeypatch, "100k", size=123)
    with pytest.raises(OSError, match="123 bytes were expected"):
        fetch_movielens("100k", data_home=tmp_path)
    assert _leftovers(tmp_path / "movielens") == []


def test_interrupted_download_raises_retries_and_leaves_no_cache(server, tmp_path):
    server.set_mode("truncate")
    with pytest.raises(OSError, match="closed early") as error:
        fetch_movielens("100k", data_home=tmp_path, n_retries=2, delay=0)
    assert "after 2 retries" in str(error.value)
    assert len(server.hits) == 3
    assert _leftovers(tmp_path / "movielens") == []
    server.set_mode("ok")  # the next call starts clean and succeeds
    assert len(fetch_movielens("100k", data_home=tmp_path).ratings) == 3


@pytest.mark.parametrize("pinned_size", [True, False])
def test_short_body_without_content_length_is_caught(server, tmp_path, monkeypatch, pinned_size):
    server.set_mode("truncate-no-length")
    if pinned_size:
        _set_remote(monkeypatch, "100k", size=len(ARCHIVES["100k"]))
    with pytest.raises(OSError, match="closed early" if pinned_size else "SHA-256"):
        fetch_movielens("100k", data_home=tmp_path, n_retries=0)
    assert _leftovers(tmp_path / "movielens") == []


def test_unreachable_server_is_an_oserror(server, tmp_path):
    server.stop()
    with pytest.raises(OSError, match="Could not download"):
        fetch_movielens("100k", data_home=tmp_path, n_retries=0)


def test_http_404_is_not_retried(server, tmp_path, monkeypatch):
    _set_remote(monkeypatch, "100k", url=server.url + "/nothing-here.zip")
    with pytest.raises(OSError, match="404"):
        fetch_movielens("100k", data_home=tmp_path, n_retries=3, delay=0)
    assert len(server.hits) == 1


def test_env_var_sets_the_data_home(server, tmp_path, monkeypatch):
    monkeypatch.setenv("FMLEARN_DATA", str(tmp_path / "from-env"))
    assert get_data_home() == tmp_path / "from-env"
    assert get_data_home(tmp_path / "explicit") == tmp_path / "explicit"  # argument wins
    fetch_movielens("100k")
    assert (tmp_path / "from-env" / "movielens" / "ml-100k" / "u.data").is_file()
    monkeypatch.delenv("FMLEARN_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home" / "fmlearn_data"


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_damaged_cache_is_downloaded_again(server, tmp_path, damage):
    first = fetch_movielens("100k", data_home=tmp_path)
    u_data = tmp_path / "movielens" / "ml-100k" / "u.data"
    if damage == "truncate":
        u_data.write_bytes(u_data.read_bytes()[:10])
    else:
        u_data.unlink()
    with pytest.raises(OSError, match=r"damaged \(u\.data") as error:
        fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    assert not isinstance(error.value, FileNotFoundError)
    with pytest.warns(UserWarning, match="damaged"):
        again = fetch_movielens("100k", data_home=tmp_path)
    pd.testing.assert_frame_equal(first.ratings, again.ratings)
    assert len(server.hits) == 2
    assert not any(".old-" in name or ".extract-" in name for name in _leftovers(tmp_path))


def test_archive_left_by_a_crash_is_extracted_offline(server, tmp_path):
    home = tmp_path / "movielens"
    home.mkdir()
    (home / "ml-100k.zip").write_bytes(ARCHIVES["100k"])  # renamed, then the process died
    server.stop()
    data = fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    assert len(data.ratings) == 3
    assert not (home / "ml-100k.zip").exists()


def test_corrupt_leftover_archive_is_replaced(server, tmp_path):
    home = tmp_path / "movielens"
    home.mkdir()
    (home / "ml-100k.zip").write_bytes(ARCHIVES["100k"][:50])
    assert len(fetch_movielens("100k", data_home=tmp_path).ratings) == 3
    assert len(server.hits) == 1


def test_half_extracted_folder_is_never_used(server, tmp_path, monkeypatch):
    def crash(new, folder):
        raise KeyboardInterrupt  # the process dies between extraction and rename

    monkeypatch.setattr(_cache, "_replace_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        fetch_movielens("100k", data_home=tmp_path)
    assert not (tmp_path / "movielens" / "ml-100k").exists()
    assert not any(".extract-" in name for name in _leftovers(tmp_path))


def test_user_unzipped_archive_without_marker_is_used(tmp_path):
    with zipfile.ZipFile(io.BytesIO(ARCHIVES["100k"])) as zf:
        zf.extractall(tmp_path / "movielens")
    data = fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    assert len(data.ratings) == 3


def test_1m_reads_double_colon_latin1_files(server, tmp_path):
    data = fetch_movielens("1m", data_home=tmp_path)
    assert data.ratings.to_numpy().tolist() == [[1, 1193, 5, 978300760], [2, 661, 3, 978302109]]
    assert [str(t) for t in data.ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    users = data.users
    assert list(users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert users["age"].tolist() == [1, 56]
    assert users["occupation"].tolist() == ["K-12 student", "self-employed"]
    assert users["gender"].tolist() == ["F", "M"]
    assert list(data.items.columns) == ["item_id", "title", "genres"]
    assert data.items["title"].tolist()[1] == "Amélie: Le Fabuleux Destin (2001)"
    assert data.items["genres"].tolist()[0] == "Animation|Children's|Musical"


def test_10m_without_sha256_is_checked_by_md5_with_a_warning(server, tmp_path, monkeypatch):
    md5 = hashlib.md5(ARCHIVES["10m"]).hexdigest()
    _set_remote(monkeypatch, "10m", sha256=None, md5="f" * 32)
    with pytest.raises(OSError, match=f"MD5 {md5}"):
        fetch_movielens("10m", data_home=tmp_path)
    _set_remote(monkeypatch, "10m", sha256=None, md5=md5)
    with pytest.warns(UserWarning, match="its MD5 only"):
        data = fetch_movielens("10m", data_home=tmp_path)
    assert data.users is None
    assert data.ratings["rating"].tolist() == [5.0, 4.5]
    assert data.items["title"].tolist() == ["Boomerang (1992)", "Net, The (1995)"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cache is read without repeating the warning
        fetch_movielens("10m", data_home=tmp_path)


def test_csv_layout(server, tmp_path):
    data = fetch_movielens("latest-small", data_home=tmp_path)
    assert data.ratings.to_numpy().tolist() == [[1, 1, 4.0, 964982703], [1, 3, 0.5, 964981247]]
    assert [str(t) for t in data.ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    assert data.users is None
    assert data.items.to_numpy().tolist() == [
        [1, "Toy Story (1995)", "Adventure|Animation"],
        [3, "Net, The (1995)", "(no genres listed)"],
    ]


def test_checksum_table_pins_official_urls():
    for variant, spec in _registry._MOVIELENS.items():
        assert spec.remote.url.startswith("https://files.grouplens.org/datasets/movielens/")
        assert spec.remote.sha256 is not None or variant == "10m"
        assert spec.remote.sha256 is None or len(spec.remote.sha256) == 64
    for remote in _registry._FRAPPE.values():
        assert _registry._FRAPPE_COMMIT in remote.url
        assert remote.sha256 is not None or remote.git_blob_sha1 is not None


# ----------------------------------------------------------------------------- frappe
def test_frappe_downloads_parses_and_caches(server, tmp_path):
    data = fetch_frappe(data_home=tmp_path)
    assert data.X_train.shape == (2, 5382) and data.X_test.shape == (2, 5382)
    assert data.X_train.toarray()[0, [0, 7, 5381]].tolist() == [1.0, 1.0, 1.0]
    assert data.y_train.tolist() == [1.0, -1.0]
    assert data.y_validation.tolist() == [-1.0]
    assert data.files["test"] == tmp_path / "frappe" / "frappe.test.libfm"
    server.stop()
    again = fetch_frappe(data_home=tmp_path, download_if_missing=False, parse=False)
    assert again.X_train is None and again.files == data.files


def test_frappe_missing_and_damaged_files(server, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"frappe\.train\.libfm"):
        fetch_frappe(data_home=tmp_path, download_if_missing=False)
    fetch_frappe(data_home=tmp_path, parse=False)
    (tmp_path / "frappe" / "frappe.test.libfm").write_bytes(b"1 2:1\n")
    with pytest.raises(OSError, match="checksum"):
        fetch_frappe(data_home=tmp_path, download_if_missing=False)
    with pytest.warns(UserWarning, match="damaged"):
        data = fetch_frappe(data_home=tmp_path)
    assert data.X_test.shape[0] == 2


def test_frappe_git_blob_check(server, tmp_path, monkeypatch):
    body = FRAPPE["train"]
    blob = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
    remote = dataclasses.replace(_registry._FRAPPE["train"], sha256=None, git_blob_sha1=blob)
    monkeypatch.setitem(_registry._FRAPPE, "train", remote)
    with pytest.warns(UserWarning, match="git blob SHA-1 only"):
        fetch_frappe(data_home=tmp_path, parse=False)


# ----------------------------------------------------------------------------- parameters
def test_bad_parameters_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"'variant' parameter of fetch_movielens must be one"):
        fetch_movielens("5m", data_home=tmp_path)
    with pytest.raises(ValueError, match="'download_if_missing' parameter of fetch_frappe"):
        fetch_frappe(data_home=tmp_path, download_if_missing="no")
    with pytest.raises(ValueError, match="'n_retries' parameter"):
        fetch_movielens(data_home=tmp_path, n_retries=-1)


def test_missing_pandas_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install \"fmlearn\[pandas\]\""):
        fetch_movielens(data_home=tmp_path)
