"""The Data tab's validation report names each problem's file and entry."""

from core.viz.common import markdown_text as md
from nasdet_gui.data_tab import report_markdown


def test_report_names_the_file_and_the_entry_of_each_problem():
    report = {
        "source": "coco",
        "summary": {"bad_box": 1},
        "problems": [
            {
                "file": "train.json",
                "entry": "annotations[3] (id 7)",
                "problem": "box has width | inf",
                "action": "skipped",
            },
            {"file": "a.jpg", "entry": None, "problem": "unreadable", "action": "skipped"},
        ],
    }
    text = report_markdown(report)
    assert "| file | entry | problem | action |" in text
    # each cell shown as text (markdown_text escapes the marks, the pipe included)
    cells = ("train.json", "annotations[3] (id 7)", "box has width | inf", "skipped")
    assert "| " + " | ".join(md(c) for c in cells) + " |" in text
    assert f"| {md('a.jpg')} |  | unreadable | skipped |" in text
    assert report_markdown({"problems": [], "summary": {}}) == "No problems found."


def test_the_summary_and_the_source_are_in_words(tmp_path):
    """Counts per problem in words with what was done (no codes), and the user's own file
    name, not the path of the app's staged copy."""
    report = {
        "source": str(tmp_path / "uploads" / "1796635453-x1y2" / "mycoco.zip"),
        "summary": {"split_missing": 1, "bad_box": 3},
        "problems": [],
    }
    text = report_markdown(report)
    assert f"**Validation report** ({md('mycoco.zip')})" in text
    assert f"- {md('1 split missing: split made from the train images')}" in text
    assert f"- {md('3 invalid boxes: dropped')}" in text
    assert "split_missing" not in text and "uploads" not in text


def test_an_upload_keeps_its_name_and_gives_the_default_dataset_name(tmp_path):
    import zipfile

    from nasdet_gui.common import Ctx
    from nasdet_gui.config import AppConfig
    from nasdet_gui.data_tab import default_name, stage_upload

    upload = tmp_path / "gradio" / "My COCO (2).zip"
    upload.parent.mkdir()
    with zipfile.ZipFile(upload, "w") as z:
        z.writestr("a.txt", "x")

    class Home:
        home = tmp_path / "home"

    Home.home.mkdir()
    staged = stage_upload(Ctx(store=Home(), config=AppConfig(home=Home.home)), str(upload))
    assert staged.name == "My COCO (2).zip" and staged.parent.parent == Home.home / "uploads"
    assert default_name(str(upload)) == "My-COCO-2"
    assert default_name("/data/shapes_v2/") == "shapes_v2"
