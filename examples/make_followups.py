"""Write `examples/followups.xlsx`: a sales team's follow-up sheet, as teams keep them today.

One row per follow-up, Chinese headers, three reps and a dozen customers from January to
June 2025, with the usual mess: ineffective calls, quotes and an order typed into the
same sheet, and three rows that cannot be read (an impossible date, a channel nobody
mapped, a missing customer), which `closecast import` reports by row number.

    python examples/make_followups.py            # rewrites examples/followups.xlsx
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HEADERS = (
    "客戶",
    "日期",
    "方式",
    "業務員",
    "有效",
    "備註",
    "來源",
    "重要度",
    "明確需求",
    "交期",
    "報價金額",
    "成交金額",
)
REPS = ("王小明", "李美玲", "陳志強")
CHANNELS = ("電話", "電話", "電話", "微信", "微信", "簡訊", "郵件", "拜訪", "來訪")
NOTES = {
    "電話": ("詢問下季彩盒需求", "確認打樣進度", "跟進報價回覆", "對方採購不在，約下週再談"),
    "微信": ("傳送新材質樣品照片", "回覆交期問題", "分享環保紙材資料"),
    "簡訊": ("提醒展會邀請",),
    "郵件": ("寄送公司簡介與報價單",),
    "拜訪": ("拜訪採購經理，了解包裝規格", "現場看產線，討論成本"),
    "來訪": ("客戶來廠參觀印刷設備",),
}
# customer, rep, source, tier, follow-ups, first day (days after 2025-01-02), cadence days
CUSTOMERS = (
    ("華美印刷有限公司", "王小明", "展會", "重點", 14, 0, 9),
    ("永豐包裝股份有限公司", "王小明", "轉介紹", "一般", 8, 20, 14),
    ("宏達彩印", "王小明", "陌生開發", "一般", 5, 60, 18),
    ("金鼎紙業", "王小明", "來電", "VVIP", 9, 5, 16),
    ("台灣紙器工業", "李美玲", "行業活動", "一般", 12, 2, 11),
    ("聯合包材", "李美玲", "展會", "一般", 3, 120, 15),
    ("新光印刷廠", "李美玲", "轉介紹", "重點", 7, 30, 17),
    ("大同彩盒", "李美玲", "陌生開發", "一般", 2, 150, 10),
    ("明德紙品", "陳志強", "來電", "一般", 6, 10, 20),
    ("晶華包裝設計", "陳志強", "展會", "重點", 10, 0, 12),
    ("佳美印刷", "陳志強", "陌生開發", "一般", 4, 90, 19),
    ("順發紙箱", "陳志強", "轉介紹", "一般", 11, 8, 10),
)
START = datetime(2025, 1, 2, 9, 0)


def rows(seed: int = 5) -> list[list[object]]:
    rng = random.Random(seed)
    out: list[list[object]] = []
    for name, rep, source, tier, count, first, cadence in CUSTOMERS:
        day = START + timedelta(days=first)
        for k in range(count):
            channel = rng.choice(CHANNELS)
            effective = "否" if rng.random() < 0.15 else "是"
            when = day.replace(
                hour=rng.choice((9, 10, 11, 14, 15, 16)), minute=rng.choice((0, 15, 30, 45))
            )
            row: list[object] = [name, when, channel, rep, effective, rng.choice(NOTES[channel])]
            row += [source if k == 0 else None, tier if k == 0 else None, None, None, None, None]
            out.append(row)
            day += timedelta(days=cadence + rng.randint(-3, 4))
    _story(out)
    return out


def _story(out: list[list[object]]) -> None:
    """The facts the call list and the report should show, set by hand."""
    by_name: dict[str, list[list[object]]] = {}
    for row in out:
        by_name.setdefault(str(row[0]), []).append(row)
    # 金鼎紙業 ordered in February and not since: dormant by the end of June.
    by_name["金鼎紙業"][2][10] = 180_000
    by_name["金鼎紙業"][3][11] = 176_500
    # 晶華包裝設計: a clear need due in July and a quote waiting for an answer.
    by_name["晶華包裝設計"][-2][8] = "是"
    by_name["晶華包裝設計"][-2][9] = "2025-07-15"
    by_name["晶華包裝設計"][-1][10] = "NT$ 95,000"
    # 永豐包裝 became a customer in May.
    by_name["永豐包裝股份有限公司"][-2][11] = "12萬"
    # Three rows nobody can read.
    blank: list[object] = [None] * 6
    out.append(["宏達彩印", "2025-02-30", "電話", "王小明", "是", "日期打錯了", *blank])
    out.append(["聯合包材", datetime(2025, 5, 20, 10), "傳真", "李美玲", "是", "傳真報價", *blank])
    out.append([None, datetime(2025, 4, 1, 15), "電話", "陳志強", "是", "忘了填客戶", *blank])


def write(path: Path) -> int:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "跟進記錄"
    sheet.append(list(HEADERS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    data = rows()
    data.sort(key=lambda r: (str(r[1]), str(r[0])))
    for row in data:
        sheet.append(row)
    for column in "BF":
        sheet.column_dimensions[column].width = 20 if column == "B" else 32
    sheet.column_dimensions["A"].width = 22
    # Fixed document dates (the zip entries still carry the time the file was written).
    book.properties.created = book.properties.modified = START
    book.save(path)
    return len(data)


if __name__ == "__main__":
    target = Path(__file__).with_name("followups.xlsx")
    print(f"wrote {write(target)} rows to {target}")
