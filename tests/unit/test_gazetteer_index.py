"""Index identity: the hash that triggers rebuilds and signs runs."""

import shutil

from mtqa.gazetteer import index, sources


def test_base_hash_follows_seed_list_content(tmp_path, monkeypatch):
    seed = tmp_path / "gazetteer"
    shutil.copytree(sources.SEED_DIR, seed)
    monkeypatch.setattr(sources, "SEED_DIR", seed)
    before = index.base_hash()
    assert index.base_hash() == before
    with (seed / "people.toml").open("a") as fh:
        fh.write('\n[[person]]\ncanonical = "Test Person"\ncountry = "UA"\naliases = []\n')
    assert index.base_hash() != before
    assert index.index_path().name.startswith("gazetteer-")


def test_gazetteer_hash_covers_newsroom_lists(tmp_path):
    house = tmp_path / "house.csv"
    house.write_text("canonical,variants,preferred,kind,note\nKupiansk,Kupyansk,Kupiansk,place,\n")
    plain = index.gazetteer_hash()
    with_list = index.gazetteer_hash([house])
    assert plain != with_list and len(with_list) == 16
    house.write_text("canonical,variants,preferred,kind,note\nKupiansk,Kupjansk,Kupiansk,place,\n")
    assert index.gazetteer_hash([house]) != with_list


def test_seed_lists_are_well_formed():
    entries = list(sources.seed_lists())
    kinds = {e.kind for e in entries}
    assert kinds == {"person", "organisation", "region"}
    assert all(e.canonical and e.country is not None for e in entries)
    canon = [e.canonical for e in entries]
    assert len(canon) == len(set(canon))
