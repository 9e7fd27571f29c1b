"""Fetch the real-document benchmark's PDFs from Debian packages into a local cache folder.

The four PDFs (Debian Reference, Debian Developer's Reference, GNU Coding Standards and
Information for Maintainers of GNU Software) are written by people outside the team and shipped
in Debian's `debian-reference-en`, `developers-reference` and `gnu-standards` packages. This
script downloads those packages with `apt-get download`, unpacks them with `dpkg-deb -x`,
gunzips the compressed PDFs and copies the four PDFs into the cache folder. PDFs already in the
cache are not downloaded again. The PDFs are never committed.

    python bench/fetch_real_docs.py [--cache-dir DIR]

The cache folder is `--cache-dir`, else `$WORKBENCH_REAL_DOCS`, else `~/.cache/workbench/real-docs`.
Each package's version goes to `<cache>/versions.json`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGES: tuple[str, ...] = ("debian-reference-en", "developers-reference", "gnu-standards")

# document file name -> (package, path inside the extracted package; ".gz" means gzipped)
DOCUMENTS: dict[str, tuple[str, str]] = {
    "debian-reference.en.pdf": ("debian-reference-en", "usr/share/debian-reference/debian-reference.en.pdf"),
    "developers-reference.pdf": ("developers-reference", "usr/share/developers-reference/developers-reference.pdf"),
    "standards.pdf": ("gnu-standards", "usr/share/doc/gnu-standards/standards.pdf.gz"),
    "maintain.pdf": ("gnu-standards", "usr/share/doc/gnu-standards/maintain.pdf.gz"),
}

VERSIONS_FILE = "versions.json"

_INSTALL_HINT = (
    "install the Debian packages apt and dpkg (for apt-get and dpkg-deb) on a machine that reaches Debian's "
    "package archive, or place {names} in {cache} by hand"
)


def default_cache_dir() -> Path:
    """The cache folder: `$WORKBENCH_REAL_DOCS` if set, else `~/.cache/workbench/real-docs`."""
    configured = os.environ.get("WORKBENCH_REAL_DOCS")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "workbench" / "real-docs"


def _failure(cache: Path, reason: str) -> RuntimeError:
    """A RuntimeError whose message says what went wrong and what to install."""
    hint = _INSTALL_HINT.format(names=", ".join(DOCUMENTS), cache=cache)
    return RuntimeError(f"Could not fetch the real-document PDFs ({reason}); {hint}.")


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output as text; never raises for a non-zero exit."""
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def _apt_download(packages: list[str], workdir: Path, cache: Path) -> None:
    """`apt-get download` the packages into `workdir`; on failure run `apt-get update -qq` once and retry."""
    if shutil.which("apt-get") is None:
        raise _failure(cache, "apt-get is not on PATH")
    command = ["apt-get", "download", "-q", *packages]
    result = _run(command, cwd=workdir)
    if result.returncode != 0:
        # Usually "Unable to locate package": the package lists are missing or stale.
        update = _run(["apt-get", "update", "-qq"])
        if update.returncode != 0:
            detail = (update.stderr or update.stdout).strip().splitlines()[-1:] or ["apt-get update failed"]
            raise _failure(cache, f"apt-get update failed: {detail[0]}")
        result = _run(command, cwd=workdir)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["apt-get download failed"]
        raise _failure(cache, f"apt-get download failed: {detail[0]}")


def _find_deb(workdir: Path, package: str, cache: Path) -> Path:
    """The downloaded .deb of `package` in `workdir`."""
    matches = sorted(workdir.glob(f"{package}_*.deb"))
    if not matches:
        raise _failure(cache, f"apt-get download left no {package}_*.deb")
    return matches[-1]


def _deb_version(deb: Path, cache: Path) -> str:
    """The package version recorded in a .deb's control file."""
    result = _run(["dpkg-deb", "-f", str(deb), "Version"])
    if result.returncode != 0:
        raise _failure(cache, f"dpkg-deb -f failed on {deb.name}: {result.stderr.strip()}")
    return result.stdout.strip()


def _extract_deb(deb: Path, target: Path, cache: Path) -> None:
    """Unpack a .deb's files into `target` with `dpkg-deb -x`."""
    if shutil.which("dpkg-deb") is None:
        raise _failure(cache, "dpkg-deb is not on PATH")
    result = _run(["dpkg-deb", "-x", str(deb), str(target)])
    if result.returncode != 0:
        raise _failure(cache, f"dpkg-deb -x failed on {deb.name}: {result.stderr.strip()}")


def _copy_document(source: Path, destination: Path, cache: Path) -> None:
    """Copy one PDF into the cache (gunzipping a .gz), through a temporary name so a partial file never stays."""
    if not source.is_file():
        raise _failure(cache, f"the package has no {source.name}")
    partial = destination.with_name(destination.name + ".part")
    if source.suffix == ".gz":
        with gzip.open(source, "rb") as compressed, partial.open("wb") as plain:
            shutil.copyfileobj(compressed, plain)
    else:
        shutil.copyfile(source, partial)
    partial.replace(destination)


def _write_versions(cache: Path, versions: dict[str, str]) -> None:
    """Merge package versions into `<cache>/versions.json`."""
    path = cache / VERSIONS_FILE
    recorded: dict[str, str] = {}
    if path.is_file():
        try:
            recorded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
    recorded.update(versions)
    path.write_text(json.dumps(dict(sorted(recorded.items())), indent=2) + "\n", encoding="utf-8")


def _fetch(missing: list[str], cache: Path) -> None:
    """Download, unpack and copy the PDFs named in `missing` into `cache`, recording package versions."""
    packages = sorted({DOCUMENTS[name][0] for name in missing})
    with tempfile.TemporaryDirectory(prefix="real-docs-") as scratch:
        workdir = Path(scratch)
        _apt_download(packages, workdir, cache)
        versions: dict[str, str] = {}
        for package in packages:
            deb = _find_deb(workdir, package, cache)
            versions[package] = _deb_version(deb, cache)
            root = workdir / package
            _extract_deb(deb, root, cache)
            for name in missing:
                owner, inner = DOCUMENTS[name]
                if owner == package:
                    _copy_document(root / inner, cache / name, cache)
        _write_versions(cache, versions)


def real_doc_paths(cache_dir: str | Path | None = None) -> dict[str, Path]:
    """Make the four benchmark PDFs available locally and return {document file name: path}.

    PDFs already in the cache folder are used as they are; missing ones are fetched from Debian's
    packages. Raises RuntimeError (one sentence saying what to install) when they cannot be fetched.
    """
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _failure(cache, f"cannot create the cache folder: {error}") from None
    missing = [name for name in DOCUMENTS if not (cache / name).is_file()]
    if missing:
        try:
            _fetch(missing, cache)
        except RuntimeError:
            raise
        except (OSError, subprocess.SubprocessError, EOFError) as error:
            raise _failure(cache, f"{type(error).__name__}: {error}") from None
    return {name: cache / name for name in DOCUMENTS}


def main(argv: list[str] | None = None) -> int:
    """Command line: fetch the PDFs and print their paths."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache-dir", default=None, help="folder for the PDFs (default: $WORKBENCH_REAL_DOCS or ~/.cache/...)")
    args = parser.parse_args(argv)
    try:
        paths = real_doc_paths(args.cache_dir)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
