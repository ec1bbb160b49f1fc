"""Generate home-solar-guide.pdf next to this script.

Run with: /work/main/.venv/bin/python examples/make_pdf.py
Output is deterministic (invariant=1), so re-running yields identical bytes.
"""
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

OUT = Path(__file__).resolve().parent / "home-solar-guide.pdf"

PAGES = [
    (
        "A Homeowner's Guide to Solar Panels",
        [
            ("Sizing a System", [
                "Home solar systems are rated in kilowatts (kW) of peak output. "
                "A typical rooftop system for a family house is between 4 kW and 8 kW. "
                "Most modern panels are rated at 400 to 450 watts each, so a 6 kW "
                "system needs about 14 to 15 panels.",
                "In a sunny region, each kilowatt of panels produces roughly 1,200 to "
                "1,500 kilowatt-hours of electricity per year. A 6 kW system can "
                "therefore generate around 8,000 kilowatt-hours annually, which covers "
                "the needs of an average household.",
                "Each panel takes up about 2 square metres of roof, so a 6 kW array "
                "needs roughly 30 square metres of clear, unshaded space.",
            ]),
        ],
    ),
    (
        "Inverters",
        [
            ("Choosing an Inverter", [
                "Solar panels produce direct current, but a home runs on alternating "
                "current. The inverter converts one into the other.",
                "A string inverter is a single box that serves a whole row of panels. "
                "It is the cheapest option, but if one panel is shaded the output of "
                "the entire string drops.",
                "Microinverters are small units fitted behind each individual panel. "
                "They cost more, but they let every panel work independently, which "
                "suits roofs with partial shade.",
                "A hybrid inverter can manage both the panels and a home battery.",
                "Inverters usually need replacing after 10 to 15 years, while the "
                "panels themselves typically carry a 25-year performance warranty.",
            ]),
        ],
    ),
    (
        "Orientation and Tilt",
        [
            ("Placing the Panels", [
                "In the northern hemisphere, panels produce the most energy when they "
                "face south. In the southern hemisphere they should face north.",
                "East-facing or west-facing roofs still work well and typically "
                "produce about 15 percent less energy than an ideal south-facing roof.",
                "A tilt angle of 30 to 40 degrees is close to ideal in most of Europe "
                "and the United States.",
                "Shade from trees or chimneys matters more than orientation, so check "
                "the roof at different times of day before installing.",
            ]),
        ],
    ),
    (
        "Costs, Payback and Batteries",
        [
            ("Payback Period", [
                "A 6 kW system costs roughly 12,000 dollars before incentives.",
                "The payback period is the time it takes for savings on electricity "
                "bills to equal the cost of the system. For most homes the payback "
                "period is between 7 and 12 years.",
                "After that point the electricity is effectively free for the "
                "remaining life of the panels, which often exceeds 25 years.",
            ]),
            ("Battery Storage", [
                "A home battery stores surplus solar power for use in the evening. "
                "A common battery size is 10 to 13.5 kilowatt-hours of usable capacity.",
                "A battery of that size can run the essential loads of a typical home "
                "through the night.",
                "A battery adds around 8,000 to 12,000 dollars to the cost of a system "
                "and can lengthen the payback period by several years.",
                "Most home batteries today use lithium iron phosphate cells and are "
                "warrantied for about 10 years.",
            ]),
        ],
    ),
]


def build() -> None:
    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(
        str(OUT),
        pagesize=A4,
        leftMargin=2.5 * cm,
        rightMargin=2.5 * cm,
        topMargin=2.5 * cm,
        bottomMargin=2.5 * cm,
        title="A Homeowner's Guide to Solar Panels",
        author="rag examples",
        invariant=1,
    )
    story = []
    for i, (page_title, sections) in enumerate(PAGES):
        if i:
            story.append(PageBreak())
        story.append(Paragraph(page_title, styles["Title"] if i == 0 else styles["Heading1"]))
        for heading, paragraphs in sections:
            story.append(Paragraph(heading, styles["Heading2"]))
            for text in paragraphs:
                story.append(Paragraph(text, styles["BodyText"]))
                story.append(Spacer(1, 0.25 * cm))
    doc.build(story)


if __name__ == "__main__":
    build()
    print(f"wrote {OUT}")
