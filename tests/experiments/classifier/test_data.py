"""Data sets: determinism, the synthetic model, splits, standardization, CSV errors."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.kinds.classifier.data import (
    DataError,
    check_spec_fits_data,
    load_dataset,
    split_indices,
)
from experiments.kinds.classifier.schema import (
    CsvData,
    InlineData,
    ModelConfig,
    RunSpec,
    SklearnData,
    SyntheticData,
    TrainConfig,
)

SMALL = {"n_samples": 300, "n_features": 8, "n_informative": 3}


def synthetic(**fields) -> SyntheticData:
    return SyntheticData(**{**SMALL, **fields})


def test_synthetic_is_deterministic_from_the_seed():
    a, b = load_dataset(synthetic(), seed=3), load_dataset(synthetic(), seed=3)
    c = load_dataset(synthetic(), seed=4)
    assert a.sha256 == b.sha256 != c.sha256
    np.testing.assert_array_equal(a.x_train, b.x_train)


def test_synthetic_true_weights_have_exactly_n_informative_nonzeros_scaled_by_class_sep():
    one = load_dataset(synthetic(class_sep=1.0), seed=0).true_weights
    two = load_dataset(synthetic(class_sep=2.0), seed=0).true_weights
    assert np.count_nonzero(one) == 3
    assert np.all((np.abs(one[one != 0]) >= 1) & (np.abs(one[one != 0]) < 2))
    np.testing.assert_allclose(two, 2 * one)


def test_label_noise_flips_that_fraction_of_labels():
    fields = {"n_samples": 4000, "test_fraction": 0.0, "standardize": False}
    clean = load_dataset(synthetic(**fields), seed=0)
    noisy = load_dataset(synthetic(label_noise=0.2, **fields), seed=0)
    np.testing.assert_array_equal(clean.x_train, noisy.x_train)  # only the labels change
    assert np.mean(clean.y_train != noisy.y_train) == pytest.approx(0.2, abs=0.02)


def test_correlated_groups_share_a_factor_and_only_the_first_member_carries_weight():
    fields = {"n_samples": 6000, "n_features": 10, "test_fraction": 0.0, "standardize": False}
    plain = load_dataset(synthetic(**fields), seed=0)
    grouped = load_dataset(synthetic(group_size=3, group_correlation=0.9, **fields), seed=0)
    assert grouped.feature_groups == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert grouped.feature_names[:4] == ["g1.0", "g1.1", "g1.2", "g2.0"]
    corr = np.corrcoef(grouped.x_train, rowvar=False)
    for group in grouped.feature_groups:
        within = corr[np.ix_(group, group)][np.triu_indices(3, 1)]
        np.testing.assert_allclose(within, 0.9, atol=0.02)  # 6,000 draws: s.e. ≈ 0.003
    np.testing.assert_allclose(np.var(grouped.x_train, axis=0), 1.0, atol=0.06)
    assert abs(corr[0, 3]) < 0.05 and abs(corr[0, 9]) < 0.05  # groups are independent
    weights = grouped.true_weights
    assert np.flatnonzero(weights).tolist() == [0, 3, 6]  # each group's first member
    # The magnitudes are the ungrouped draw's, and the last feature (outside every group)
    # is the ungrouped draw's too: a group changes only what it names.
    np.testing.assert_array_equal(
        np.sort(np.abs(weights[weights != 0])),
        np.sort(np.abs(plain.true_weights[plain.true_weights != 0])),
    )
    np.testing.assert_array_equal(grouped.x_train[:, 9], plain.x_train[:, 9])
    assert plain.feature_groups == []
    with pytest.raises(ValueError, match=r"n_informative × group_size must be <= n_features"):
        synthetic(group_size=4)  # 3 × 4 > 8


def test_separable_data_is_separated_by_the_true_weights():
    data = load_dataset(synthetic(separable=True, test_fraction=0.0, standardize=False), seed=0)
    predictions = (data.x_train @ data.true_weights > 0).astype(np.int32)
    np.testing.assert_array_equal(predictions, data.y_train)


@pytest.mark.parametrize(
    ("name", "n", "d", "classes"),
    [("breast_cancer", 569, 30, 2), ("iris", 150, 4, 3), ("wine", 178, 13, 3)],
)
def test_sklearn_sets_load_with_labels_0_to_c_minus_1(name, n, d, classes):
    data = load_dataset(SklearnData(name=name), seed=0)
    assert len(data.y_train) + len(data.y_test) == n
    assert data.x_train.shape[1] == d == len(data.feature_names)
    assert data.n_classes == classes == len(data.class_names)
    assert set(np.unique(data.y_train)) == set(range(classes))
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int32
    assert data.true_weights is None


def test_standardization_is_fitted_on_the_training_split_only():
    x = [[float(i), 5.0] for i in range(8)]  # the second feature is constant
    raw = InlineData(x=x, y=[0, 1] * 4, test_fraction=0.25, standardize=False)
    scaled = load_dataset(raw.model_copy(update={"standardize": True}), seed=0)
    plain = load_dataset(raw, seed=0)
    mean, std = plain.x_train.mean(0), plain.x_train.std(0)  # population std
    expected_train = (plain.x_train[:, 0] - mean[0]) / std[0]
    np.testing.assert_allclose(scaled.x_train[:, 0], expected_train, rtol=1e-6)
    expected_test = (plain.x_test[:, 0] - mean[0]) / std[0]
    np.testing.assert_allclose(scaled.x_test[:, 0], expected_test, rtol=1e-6)
    np.testing.assert_array_equal(scaled.x_train[:, 1], 0.0)  # centred, not divided by 0
    np.testing.assert_array_equal(scaled.x_test[:, 1], 0.0)


def test_split_is_stratified_deterministic_and_disjoint():
    y = np.array([0] * 90 + [1] * 10)
    train, test = split_indices(y, 0.2, seed=0)
    again, _ = split_indices(y, 0.2, seed=0)
    other, _ = split_indices(y, 0.2, seed=1)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, other)
    assert len(test) == 20 and np.bincount(y[test]).tolist() == [18, 2]
    assert sorted([*train, *test]) == list(range(100))


def test_every_class_keeps_a_training_example():
    y = np.array([0, 0, 0, 1])
    train, test = split_indices(y, 0.5, seed=0)
    assert 1 in y[train] and len(test) == 2


def test_test_fraction_zero_gives_an_empty_test_set_of_the_right_width():
    data = load_dataset(synthetic(test_fraction=0.0), seed=0)
    assert data.x_test.shape == (0, 8) and data.y_test.shape == (0,)


def write(tmp_path, text: str, name: str = "data.csv"):
    (tmp_path / name).write_text(text)
    return tmp_path


def test_csv_with_text_labels_and_a_path_relative_to_the_config(tmp_path):
    rows = "".join(f"{i},{i % 3},{'cat' if i % 2 else 'dog'}\n" for i in range(20))
    base = write(tmp_path, "a,b,animal\n" + rows)
    data = load_dataset(CsvData(path="data.csv", target="animal"), seed=0, base_dir=base)
    assert data.feature_names == ["a", "b"]
    assert data.class_names == ["cat", "dog"]
    assert len(data.y_train) + len(data.y_test) == 20


def test_csv_numeric_labels_sort_as_numbers(tmp_path):
    base = write(tmp_path, "a,label\n" + "".join(f"{i},{10 if i % 2 else 2}\n" for i in range(8)))
    data = load_dataset(CsvData(path="data.csv", target="label"), seed=0, base_dir=base)
    assert data.class_names == ["2", "10"]


@pytest.mark.parametrize(
    ("text", "target", "expected"),
    [
        (None, "label", "data.path: file not found: "),
        ("a,b,label\n1,2,0\n", "y", "data.target: column 'y' not found in "),
        ("a,b,label\n1,2,0\n", "y", "(columns: a, b, label)"),
        ("a,b,label\n1,2,0\n3,abc,1\n", "label", "line 3, column 'b': 'abc' is not a number"),
        ("a,b,label\n1,NaN,0\n3,4,1\n", "label", "line 2, column 'b': 'NaN' is NaN"),
        ("a,b,label\n1,,0\n3,4,1\n", "label", "line 2, column 'b': empty cell"),
        ("a,b,label\n1,2,0\n3,4\n", "label", "line 3: 2 cells, but the header has 3"),
        ("a,b,label\n1,2,1\n3,4,1\n", "label", "has a single class (1)"),
        ("", "label", "is empty"),
        ("a,a,label\n1,2,0\n", "label", "repeats column names: a"),
    ],
)
def test_csv_problems_are_named(tmp_path, text, target, expected):
    if text is not None:
        write(tmp_path, text)
    with pytest.raises(DataError) as error:
        load_dataset(CsvData(path="data.csv", target=target), seed=0, base_dir=tmp_path)
    assert any(expected in line for line in error.value.problems), error.value.problems


def test_csv_reports_every_bad_cell_at_once(tmp_path):
    write(tmp_path, "a,b,label\nx,1,0\n2,y,1\n")
    with pytest.raises(DataError) as error:
        load_dataset(CsvData(path="data.csv", target="label"), seed=0, base_dir=tmp_path)
    assert len(error.value.problems) == 2


def test_a_single_class_is_refused():
    with pytest.raises(DataError, match="single class"):
        load_dataset(InlineData(x=[[0.0], [1.0], [2.0]], y=[1, 1, 1]), seed=0)


def test_model_classes_must_match_the_data():
    data = load_dataset(SklearnData(name="iris"), seed=0)
    spec = RunSpec(name="v", data=SklearnData(name="iris"), model=ModelConfig(classes=2))
    with pytest.raises(DataError, match=r"model\.classes: is 2, but sklearn iris .* has 3"):
        check_spec_fits_data(spec, data)
    check_spec_fits_data(spec.model_copy(update={"model": ModelConfig(classes=3)}), data)


def test_batch_size_must_fit_in_the_training_split():
    data = load_dataset(synthetic(), seed=0)
    spec = RunSpec(name="v", data=synthetic(), train=TrainConfig(batch_size=1000))
    with pytest.raises(DataError, match=r"train\.batch_size: is 1000, more than the 225"):
        check_spec_fits_data(spec, data)
