"""The compact gazetteer index: built once into the cache directory, loaded in about a second.

``load_gazetteer(names_files)`` returns a ``Gazetteer``: entries in columns (canonical form,
kind, country, region, population, prominence, source), ``forms`` (folded form -> entry ids),
a retrieval index over corruption skeletons (see :meth:`Gazetteer.retrieve`) and ``name_parts``
(folded given names and surnames, for plausibility). The newsroom list is applied on top at load time,
so editing it never forces a rebuild. ``gazetteer_hash(names_files)`` is the run signature key.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
import time
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from ..config import cache_dir
from . import sources
from .corruption import COSTS_PATH
from .normalize import fold, is_latin

log = logging.getLogger(__name__)
INDEX_VERSION = "6"
MIN_RETRIEVAL_LENGTH = 4
PRIORITY_PROMINENCE = 0.8
# Skeletons shorter than this are not indexed by their deletions (two letters match everything).
MIN_KEY_LENGTH = 3


def _key_hash(key: str) -> int:
    """A stable 32-bit key (Python's str hash changes per process; the index is pickled). A rare
    collision only adds a candidate that the distance check after the look-up drops."""
    return zlib.crc32(key.encode())


def deletions(skel: str) -> set[str]:
    """The skeleton and every form of it with one letter dropped (a symmetric-deletion index:
    two skeletons within one substitution, insertion or deletion share a key)."""
    keys = {skel}
    if len(skel) > MIN_KEY_LENGTH:
        keys.update(skel[:i] + skel[i + 1 :] for i in range(len(skel)))
    return keys


def index_keys(skel: str) -> set[str]:
    """Keys a known skeleton is filed under: its deletions, and itself cut short by 2 or 3
    letters (MT and scraping truncate names: "Zaporizh", "Kramat")."""
    keys = deletions(skel)
    keys.update(skel[:-k] for k in (2, 3) if len(skel) - k >= max(MIN_KEY_LENGTH, 4))
    return keys


# The index file holds these sections one after another; a loaded index reads each on first use,
# so a check that never looks a name up (or only looks forms up) does not pay for the rest.
SECTIONS = {
    "entries": ("canonical", "kind", "country", "region", "population", "prominence", "source",
                "preferred", "note"),
    "forms": ("forms",),
    "retrieval": ("skeletons", "skeleton_list", "key_hashes", "key_ids"),
    "fuzzy": ("form_prominence", "priority_forms", "region_forms"),
    "name_parts": ("name_parts",),
}
_SECTION_OF = {attr: name for name, attrs in SECTIONS.items() for attr in attrs}


class Gazetteer:
    def __getattr__(self, name: str):
        # Only called for attributes not set yet: the lazy sections of a loaded index.
        section = _SECTION_OF.get(name)
        lazy = self.__dict__.get("_lazy")
        if section is None or lazy is None:
            raise AttributeError(name)
        with lazy["lock"]:
            if name not in self.__dict__:
                start, length = lazy["offsets"][section]
                # pread on the descriptor opened at load: a rebuild that replaces or removes the
                # file meanwhile cannot hand this process another index's bytes.
                self.__dict__.update(pickle.loads(os.pread(lazy["fd"], length, start)))
        return self.__dict__[name]

    def __getstate__(self) -> dict:
        """Whole, for pickling (a worker process gets a copy, not a file descriptor)."""
        for attr in _SECTION_OF:
            getattr(self, attr)
        return {k: v for k, v in self.__dict__.items() if k != "_lazy"}

    def __init__(self) -> None:
        self.canonical: list[str] = []
        self.kind: list[str] = []
        self.country: list[str] = []
        self.region: list[str] = []
        self.population: list[int] = []
        self.prominence: list[float] = []
        self.source: list[str] = []
        self.preferred: dict[int, str] = {}
        self.note: dict[int, str] = {}
        self.forms: dict[str, tuple[int, ...]] = {}
        self.skeletons: dict[str, tuple[str, ...]] = {}  # retrieval skeleton -> folded forms
        # Retrieval: sorted 32-bit hashes of every skeleton's index keys, with the skeleton ids.
        self.skeleton_list: list[str] = []
        self.key_hashes = None  # numpy uint32, sorted
        self.key_ids = None  # numpy int32, aligned with key_hashes
        self.extra_keys: dict[str, set[str]] = {}  # newsroom skeletons (overlay), key -> skeletons
        self.form_prominence: dict[str, float] = {}  # folded form -> its most prominent reading
        # Searched with a looser cutoff: prominent entities (seed lists, big places) and the
        # places of each region (used for the regions a document is about).
        self.priority_forms: list[str] = []
        self.region_forms: dict[str, list[str]] = {}
        self.name_parts: dict[str, str] = {}
        self.meta: dict = {}

    def __len__(self) -> int:
        return len(self.canonical)

    # -- building ------------------------------------------------------------------------------
    def add(self, entry: sources.SourceEntry, *, override: bool = False) -> int:
        forms = [entry.canonical, *entry.aliases]
        if entry.preferred:
            forms.append(entry.preferred)
        folded = [f for f in dict.fromkeys(fold(x) for x in forms) if f and is_latin(f)]
        if not folded:
            return -1
        merged = self._merge_target(entry, folded)
        if override:
            # A newsroom entry takes over the entity it names (same kind, most prominent reading),
            # so all that entity's known variants now lead to the house canonical form.
            same = [i for i in self.forms.get(folded[0], ()) if self.kind[i] == entry.kind]
            if same:
                merged = max(same, key=lambda i: self.prominence[i])
                self.prominence[merged] = max(self.prominence[merged], entry.prominence)
        if merged is not None:
            eid = merged
            self.canonical[eid] = entry.canonical  # the official romanisation wins over GeoNames'
            self.prominence[eid] = max(self.prominence[eid], entry.prominence)
        else:
            eid = len(self.canonical)
            self.canonical.append(entry.canonical)
            self.kind.append(entry.kind)
            self.country.append(entry.country)
            self.region.append(entry.region)
            self.population.append(entry.population)
            self.prominence.append(entry.prominence)
            self.source.append(entry.source)
        if entry.preferred:
            self.preferred[eid] = entry.preferred
        if entry.note:
            self.note[eid] = entry.note
        for form in folded:
            ids = self.forms.get(form, ())
            if override:
                # A newsroom entry claims its forms: other readings of them no longer count.
                self.forms[form] = (eid,)
            elif eid not in ids:
                self.forms[form] = (*ids, eid)
        return eid

    def _merge_target(self, entry: sources.SourceEntry, folded: list[str]) -> int | None:
        """A KATOTTG settlement that GeoNames already lists (same form, same oblast) is one place."""
        if entry.source != "katottg":
            return None
        same = {eid for form in folded for eid in self.forms.get(form, ())
                if self.source[eid] == "geonames" and self.region[eid] == entry.region
                and fold(self.canonical[eid]) in folded}
        return max(same, key=lambda e: self.prominence[e]) if same else None

    def finish(self) -> None:
        import numpy as np

        from .corruption import default_model

        model = default_model()
        skeletons: dict[str, list[str]] = {}
        for form, ids in self.forms.items():
            if len(form) >= MIN_RETRIEVAL_LENGTH:
                skeletons.setdefault(model.skeleton(form), []).append(form)
                self.form_prominence[form] = max(self.prominence[i] for i in ids)
        self.skeletons = {k: tuple(v) for k, v in skeletons.items() if k}
        self.skeleton_list = sorted(self.skeletons)
        hashes: list[int] = []
        ids: list[int] = []
        for sid, skel in enumerate(self.skeleton_list):
            keys = index_keys(skel)
            hashes.extend(_key_hash(k) for k in keys)
            ids.extend([sid] * len(keys))
        order = np.argsort(np.asarray(hashes, dtype=np.uint32), kind="stable")
        self.key_hashes = np.asarray(hashes, dtype=np.uint32)[order]
        self.key_ids = np.asarray(ids, dtype=np.int32)[order]
        priority: set[str] = set()
        regions: dict[str, set[str]] = {}
        for form, ids in self.forms.items():
            if len(form) < MIN_RETRIEVAL_LENGTH:
                continue
            for eid in ids:
                if self.prominence[eid] >= PRIORITY_PROMINENCE:
                    priority.add(form)
                if self.region[eid] and self.kind[eid] == "place":
                    regions.setdefault(self.region[eid], set()).add(form)
        self.priority_forms = sorted(priority)
        self.region_forms = {k: sorted(v) for k, v in regions.items()}

    # -- reading -------------------------------------------------------------------------------
    def lookup(self, folded: str) -> tuple[int, ...]:
        return self.forms.get(folded, ())

    def entry(self, eid: int) -> dict:
        return {
            "id": eid, "canonical": self.canonical[eid], "kind": self.kind[eid], "country": self.country[eid],
            "region": self.region[eid], "population": self.population[eid],
            "prominence": round(self.prominence[eid], 3), "source": self.source[eid],
        }

    def retrieve(self, skel: str) -> list[str]:
        """Known skeletons within about two edits of ``skel`` (one substitution, insertion or
        deletion on each side, a cut-off ending or an added one): exact hash look-ups, no scan.
        The skeleton already merges l/r, z/d/j, c/k, v/b, i/y, doubled letters (see the prior)."""
        import numpy as np

        if not skel or self.key_hashes is None:
            return []
        keys = deletions(skel)
        wanted = np.fromiter((_key_hash(k) for k in keys), dtype=np.uint32, count=len(keys))
        lo = np.searchsorted(self.key_hashes, wanted, "left")
        hi = np.searchsorted(self.key_hashes, wanted, "right")
        found = [self.key_ids[a:b] for a, b in zip(lo, hi) if b > a]
        out = [self.skeleton_list[i] for i in np.unique(np.concatenate(found))] if found else []
        # A known skeleton equal to this one less 2 or 3 final letters: MT leaves source-language
        # endings on names ("Darwinil", "Polotski"). The list is sorted: a binary search each.
        for k in (2, 3):
            if len(skel) - k >= 4:
                stem = skel[:-k]
                at = bisect.bisect_left(self.skeleton_list, stem)
                if at < len(self.skeleton_list) and self.skeleton_list[at] == stem:
                    out.append(stem)
                keys = keys | {stem}  # newsroom skeletons (below) are filed under their own key too
        for key in keys:
            out.extend(self.extra_keys.get(key, ()))
        return list(dict.fromkeys(out))

    def retrieve_focused(self, folded: str, regions: Sequence[str], limit: int = 5,
                         cutoff: float = 50.0) -> list[str]:
        """Forms near ``folded`` among prominent entities and the places of ``regions`` (looser
        than the skeleton index; used when the document is about those regions)."""
        from rapidfuzz import fuzz, process

        pools = [self.priority_forms, *(self.region_forms.get(r, []) for r in regions)]
        found: list[str] = []
        for pool in pools:
            if pool:
                found += [m[0] for m in process.extract(folded, pool, scorer=fuzz.ratio, limit=limit,
                                                        score_cutoff=cutoff)]
        return list(dict.fromkeys(found))

    def overlay(self, paths: Iterable[Path]) -> None:
        """The newsroom list, applied last so it wins; its forms join the retrieval index."""
        added = set()
        for path in paths:
            for entry in sources.newsroom_list(Path(path)):
                if self.add(entry, override=True) >= 0:
                    forms = [entry.canonical, *entry.aliases, *([entry.preferred] if entry.preferred else [])]
                    added.update(f for f in (fold(x) for x in forms) if f and is_latin(f))
        from .corruption import default_model

        model = default_model()
        for form in added:
            if len(form) >= MIN_RETRIEVAL_LENGTH:
                self.priority_forms.append(form)
                self.form_prominence[form] = max(self.prominence[i] for i in self.forms[form])
                skel = model.skeleton(form)
                if skel:
                    self.skeletons[skel] = tuple(dict.fromkeys((*self.skeletons.get(skel, ()), form)))
                    for key in index_keys(skel):
                        self.extra_keys.setdefault(key, set()).add(skel)


def _file_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def base_hash() -> str:
    payload = {"index": INDEX_VERSION, **sources.source_fingerprint()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def gazetteer_hash(names_files: Sequence[Path] = ()) -> str:
    """Everything that changes name decisions: sources, seed lists, learned costs, the fitted
    decision, newsroom lists."""
    digest = hashlib.sha256(base_hash().encode())
    decision = COSTS_PATH.parent / "decision.toml"
    digest.update(_file_hash([COSTS_PATH, decision, *sorted(Path(p) for p in names_files)]).encode())
    return digest.hexdigest()[:16]


def index_path() -> Path:
    return cache_dir() / f"gazetteer-{base_hash()[:16]}.pkl"


def build_index(path: Path | None = None, progress: bool = True) -> tuple[Path, dict]:
    """Build from all sources into ``path`` (default: the cache directory); return stats."""
    from rich.progress import Progress

    path = path or index_path()
    started = time.perf_counter()
    gaz = Gazetteer()
    steps = [*sources.BUILT_SOURCES, ("name parts", None)]
    with Progress(transient=False, disable=not progress, console=_stderr_console()) as bar:
        task = bar.add_task("gazetteer: building", total=len(steps))
        for name, fn in steps:
            bar.update(task, description=f"gazetteer: {name}")
            if fn is None:
                for part, label in sources.name_parts():
                    if part and is_latin(part):
                        gaz.name_parts.setdefault(part, label)
            else:
                for entry in fn():
                    gaz.add(entry)
            bar.advance(task)
    # Seed-list people are known name parts too (their given names and surnames); a names-dataset
    # name is a given name or a surname ("names-dataset:given"), not a person on its own.
    for eid, kind in enumerate(gaz.kind):
        if kind == "person":
            source = gaz.source[eid]
            label = source.partition(":")[2] if source.startswith(sources.PERSON_NAME_SOURCE) else "person"
            for part in fold(gaz.canonical[eid]).split():
                gaz.name_parts.setdefault(part, label)
    gaz.finish()
    gaz.meta = {"base_hash": base_hash(), "sources": sources.source_fingerprint(), "entries": len(gaz),
                "forms": len(gaz.forms), "name_parts": len(gaz.name_parts)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        _write_sections(fh, gaz)
    os.replace(tmp, path)  # atomic: a parallel reader never sees half a file
    if path.parent == cache_dir():
        for stale in path.parent.glob("gazetteer-*.pkl"):  # indexes of older sources are dead weight
            if stale != path:
                stale.unlink(missing_ok=True)
    stats = {**gaz.meta, "build_seconds": round(time.perf_counter() - started, 2),
             "size_mb": round(path.stat().st_size / 1e6, 1), "path": str(path)}
    log.info("gazetteer index built: %s", stats)
    return path, stats


def _stderr_console():
    from rich.console import Console

    return Console(file=sys.stderr)


def _write_sections(fh, gaz: Gazetteer) -> None:
    """A table of section offsets, the eager attributes, then each section (plain data only: no
    class path inside, so moving the code never breaks an index)."""
    blobs, offsets, at = [], {}, 0
    for name, attrs in SECTIONS.items():
        blob = pickle.dumps({a: getattr(gaz, a) for a in attrs}, protocol=pickle.HIGHEST_PROTOCOL)
        offsets[name] = (at, len(blob))
        blobs.append(blob)
        at += len(blob)
    eager = {k: v for k, v in gaz.__dict__.items() if k not in _SECTION_OF and k != "_lazy"}
    head = pickle.dumps({"offsets": offsets, "eager": eager}, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(len(head).to_bytes(8, "little"))
    fh.write(head)
    for blob in blobs:
        fh.write(blob)


@lru_cache(maxsize=2)
def _load_base(path_str: str) -> Gazetteer:
    import threading

    path = Path(path_str)
    if not path.exists():
        build_index(path, progress=sys.stderr.isatty())
    fd = os.open(path, os.O_RDONLY)  # the header and every section come from this one file
    size = int.from_bytes(os.pread(fd, 8, 0), "little")
    head = pickle.loads(os.pread(fd, size, 8))
    gaz = Gazetteer.__new__(Gazetteer)
    gaz.__dict__.update(head["eager"])
    offsets = {name: (8 + size + at, n) for name, (at, n) in head["offsets"].items()}
    gaz._lazy = {"fd": fd, "offsets": offsets, "lock": threading.Lock()}
    return gaz


def load_gazetteer(names_files: Sequence[Path] = ()) -> Gazetteer:
    """The index (built on first use) plus the newsroom list(s) on top."""
    base = _load_base(str(index_path()))
    if not names_files:
        return base
    return _with_overlay(base, tuple(str(p) for p in names_files), gazetteer_hash(names_files))


@lru_cache(maxsize=4)
def _with_overlay(base: Gazetteer, paths: tuple[str, ...], _key: str) -> Gazetteer:
    import copy

    gaz = copy.copy(base)
    for attr in ("canonical", "kind", "country", "region", "population", "prominence", "source"):
        setattr(gaz, attr, list(getattr(base, attr)))
    gaz.preferred, gaz.note, gaz.forms = dict(base.preferred), dict(base.note), dict(base.forms)
    gaz.skeletons = dict(base.skeletons)
    gaz.priority_forms = list(base.priority_forms)
    gaz.form_prominence = dict(base.form_prominence)
    gaz.extra_keys = {k: set(v) for k, v in base.extra_keys.items()}
    gaz.overlay(Path(p) for p in paths)
    return gaz


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    _, info = build_index(progress=True)
    print(json.dumps(info, indent=1))
