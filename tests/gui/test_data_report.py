"""The Data tab's validation report names each problem's file and entry."""

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
    assert "| train.json | annotations[3] (id 7) | box has width \\| inf | skipped |" in text
    assert "| a.jpg |  | unreadable | skipped |" in text
    assert report_markdown({"problems": [], "summary": {}}) == "No problems found."
