import pytest

from utils import labels
from utils.errors import WorkbookError


def test_thousand_distinct_classes_with_wordnet_ids():
    classes = labels.imagenet_classes()
    assert len(classes) == labels.NUM_CLASSES
    assert [c.class_id for c in classes] == list(range(1000))
    assert len({c.wnid for c in classes}) == 1000
    assert all(c.wnid.startswith("n") and len(c.wnid) == 9 for c in classes)
    # WordNet ids are sorted in ImageNet-1k's class order (the order of the original demo's class map).
    assert [c.wnid for c in classes] == sorted(c.wnid for c in classes)


def test_id_name_wnid_round_trip():
    for entry in labels.imagenet_classes():
        assert labels.lookup(entry.wnid) == entry
        assert labels.by_id(entry.class_id) == entry
    assert labels.lookup("Espresso").class_id == labels.lookup("n07920052").class_id


def test_short_name_is_one_of_the_synonyms_for_most_classes():
    classes = labels.imagenet_classes()
    matching = sum(c.name.lower() in c.synonyms.lower() for c in classes)
    assert matching > 900


@pytest.mark.parametrize("lookup, message", [(lambda: labels.by_id(1000), "out of range"),
                                             (lambda: labels.by_id(-1), "out of range"),
                                             (lambda: labels.lookup("unicorn"), "no ImageNet class")])
def test_bad_lookups_are_one_line_errors(lookup, message):
    with pytest.raises(WorkbookError, match=message) as info:
        lookup()
    assert "\n" not in str(info.value)
