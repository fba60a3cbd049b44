"""The published test confusion matrices of Jani & Kumar, transcribed as test data.

Source: Jani & Kumar, "Detecting Diabetic Retinopathy" (Stanford course report; short name JK),
test split of the Kaggle 2015 EyePACS training set (8,781 photos). For each table: the test
confusion matrix (true class on rows, predicted on columns), the test accuracy in per cent and
the per-class precision / recall / F1 (class 0 first) as the report prints them. Classes are the
five ICDR grades (task ``grade5``) or the three classes 0 / 1-2 / 3-4 (task ``grade3``).
``derived_qwk`` is not in the report: it is quadratic weighted kappa computed from the matrix
(scikit-learn, quadratic weights), to three decimals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedTable:
    id: str
    source: str
    network: str
    task: str
    confusion: tuple[tuple[int, ...], ...]
    accuracy_percent: str  # as printed, so "exactly" means to the printed digits
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    derived_qwk: float


JK = 'Jani & Kumar, "Detecting Diabetic Retinopathy" (Stanford course report)'

PUBLISHED = (
    PublishedTable(
        "JK-T1", JK, "ResNet-18", "grade5",
        ((6354, 16, 49, 16, 17), (601, 3, 4, 3, 0), (1215, 4, 62, 28, 14), (160, 0, 24, 30, 4),
         (114, 0, 12, 19, 32)),
        "73.807",
        (.75, .13, .41, .31, .48), (.98, .00, .05, .14, .18), (.85, .01, .08, .19, .26),
        0.226,
    ),
    PublishedTable(
        "JK-T2", JK, "ResNet-18", "grade5",
        ((3624, 20, 2572, 41, 195), (328, 3, 265, 3, 12), (391, 1, 812, 43, 76),
         (21, 0, 134, 43, 20), (4, 0, 63, 26, 84)),
        "51.999",
        (.83, .12, .21, .28, .22), (.56, .00, .61, .20, .47), (.67, .01, .31, .23, .30),
        0.271,
    ),
    PublishedTable(
        "JK-T3", JK, "ResNet-18", "grade3",
        ((5807, 337, 308), (1448, 231, 255), (117, 38, 240)),
        "71.495",
        (.79, .38, .30), (.90, .12, .61), (.84, .18, .40),
        0.366,
    ),
    PublishedTable(
        "JK-T4", JK, "Inception v3", "grade5",
        ((4911, 0, 1322, 152, 67), (409, 0, 172, 26, 4), (362, 0, 697, 249, 15),
         (9, 0, 63, 142, 4), (1, 0, 42, 78, 56)),
        "66.120",
        (.86, .00, .30, .22, .38), (.76, .00, .53, .65, .32), (.81, .00, .39, .33, .35),
        0.483,
    ),
    PublishedTable(
        "JK-T5", JK, "Inception v3", "grade3",
        ((5942, 457, 53), (1109, 732, 93), (33, 155, 207)),
        "78.362",
        (.84, .54, .59), (.92, .38, .52), (.88, .45, .55),
        0.568,
    ),
    PublishedTable(
        "JK-T6", JK, "SqueezeNet", "grade5",
        ((3554, 73, 2576, 33, 216), (334, 14, 246, 3, 14), (401, 12, 788, 56, 66),
         (24, 1, 129, 52, 12), (5, 0, 52, 29, 91)),
        "51.236",
        (.82, .14, .21, .30, .23), (.55, .02, .60, .24, .51), (.66, .04, .31, .27, .32),
        0.260,
    ),
    PublishedTable(
        "JK-T7", JK, "SqueezeNet", "grade3",
        ((4925, 1055, 472), (1121, 534, 279), (76, 83, 236)),
        "64.856",
        (.80, .32, .24), (.76, .28, .60), (.78, .30, .34),
        0.312,
    ),
)  # fmt: skip
