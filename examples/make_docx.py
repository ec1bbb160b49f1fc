"""Generate remote-work-policy.docx next to this script.

Run with: /work/main/.venv/bin/python examples/make_docx.py
"""
from datetime import datetime, timezone
from pathlib import Path

from docx import Document

OUT = Path(__file__).resolve().parent / "remote-work-policy.docx"

SECTIONS = [
    ("Purpose", [
        "This policy explains how employees of Northwind Analytics may work "
        "remotely, what the company provides to support them, and the rules "
        "that protect company data outside the office.",
    ]),
    ("Eligibility", [
        "Employees become eligible to apply for remote work after completing "
        "6 months of continuous employment with the company.",
        "Eligibility also requires a satisfactory most recent performance review "
        "and the written approval of the employee's line manager.",
        "Roles that require physical presence, such as facilities and reception "
        "staff, are not eligible for regular remote work.",
    ]),
    ("Working Arrangements", [
        "Approved employees may work remotely for up to 3 days per week. The "
        "remaining days are spent in the office so that teams can collaborate in "
        "person.",
        "Fully remote arrangements are possible only with approval from the "
        "department head and the human resources team.",
    ]),
    ("Core Hours", [
        "All remote employees must be available during core hours, from 10:00 to "
        "15:00 in their local office time zone, Monday to Friday.",
        "Outside core hours, employees may arrange their working day flexibly, as "
        "long as they complete their contracted hours each week.",
        "Employees must respond to messages from their team within 2 hours during "
        "core hours.",
    ]),
    ("Equipment and Stipend", [
        "The company provides every remote employee with a laptop, a monitor and "
        "a headset. These items remain company property and must be returned when "
        "employment ends.",
        "In addition, each eligible employee receives a one-time home office "
        "stipend of 500 euros to buy a desk, a chair or other furniture.",
        "Remote employees are also reimbursed up to 30 euros per month for home "
        "internet costs on submission of a receipt.",
    ]),
    ("Security Rules", [
        "Company data may only be accessed from company-issued devices. Personal "
        "computers and tablets must never be used for work.",
        "Employees must connect through the company VPN whenever they access "
        "internal systems from outside the office.",
        "Work must not be carried out over public Wi-Fi networks, such as those "
        "in cafes, hotels or airports, unless the VPN is active.",
        "Screens must be locked whenever the employee steps away, and devices "
        "must lock automatically after 5 minutes of inactivity.",
        "Lost or stolen devices must be reported to the IT service desk within "
        "24 hours.",
    ]),
    ("Review of Arrangements", [
        "Remote working arrangements are reviewed every 12 months. The company may "
        "withdraw permission for remote work if performance standards or security "
        "rules are not met.",
    ]),
]


def build() -> None:
    doc = Document()
    fixed = datetime(2024, 1, 1, tzinfo=timezone.utc)
    props = doc.core_properties
    props.title = "Remote Work Policy"
    props.author = "rag examples"
    props.created = fixed
    props.modified = fixed
    props.last_modified_by = "rag examples"
    props.revision = 1

    doc.add_heading("Remote Work Policy", level=0)
    for heading, paragraphs in SECTIONS:
        doc.add_heading(heading, level=1)
        for text in paragraphs:
            doc.add_paragraph(text)
    doc.save(str(OUT))


if __name__ == "__main__":
    build()
    print(f"wrote {OUT}")
