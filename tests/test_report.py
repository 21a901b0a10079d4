"""pjpart.report: the HTML and Markdown reports of a partition, with every section and the plots."""

from pjpart.cli import main


def test_report_html_and_markdown_have_every_part(tmp_path):
    from pjpart.report import SECTIONS

    out = tmp_path / "r.html"
    assert main(["partition", "tiny", "-k", "3", "--report", str(out), "--quiet"]) == 0
    text = out.read_text()
    for part in SECTIONS:
        assert f"<h2>{part}</h2>" in text
    assert text.count('src="data:image/png;base64,') == 2 and "gap 0.000%" in text
    md = tmp_path / "new" / "folder" / "r.md"  # folders that do not exist yet are made
    assert main(["partition", "tiny", "-k", "2", "--report", str(md), "--quiet"]) == 0
    text = md.read_text()
    for part in SECTIONS:
        assert f"## {part}" in text
    assert (md.parent / "r_stages.png").stat().st_size > 1000 and (md.parent / "r_convergence.png").exists()
