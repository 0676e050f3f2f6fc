"""Writes the JSONL task files of the quality and reasoning suites (deterministic; run it after
changing a template, and commit what it writes):

    python configs/suites/data/generate.py

Every checked answer is computed here by Python (arithmetic, code) or written once by hand with
exactly one right answer (facts, commonsense). Nothing is downloaded.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent
ONLY_NUMBER = "Answer with the number only."


def arithmetic(rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for i in range(1, 21):
        a, b = rng.randint(12, 999), rng.randint(12, 999)
        op = ["+", "-", "*"][i % 3]
        if op == "*":
            a, b = rng.randint(11, 99), rng.randint(11, 99)
        value = eval(f"{a} {op} {b}")  # noqa: S307 - our own two integers
        rows.append(
            {"id": f"arith-{i}", "type": "math", "prompt": f"What is {a} {op} {b}? {ONLY_NUMBER}",
             "expect": {"number": value}, "max_tokens": 32}
        )
    return rows


FACTS = [
    ("What is the chemical symbol for gold?", ["Au"]),
    ("What is the capital city of Japan?", ["Tokyo"]),
    ("How many sides does a hexagon have? Answer with the number in digits.", ["6"]),
    ("Which planet is closest to the Sun?", ["Mercury"]),
    ("What is the largest ocean on Earth?", ["Pacific", "Pacific Ocean", "the Pacific Ocean"]),
    ("In which country is the city of Lyon?", ["France"]),
    ("What gas do plants absorb from the air for photosynthesis?",
     ["carbon dioxide", "CO2"]),
    ("What is the capital city of Canada?", ["Ottawa"]),
    ("How many minutes are in one hour? Answer with the number in digits.", ["60"]),
    ("What is the chemical symbol for sodium?", ["Na"]),
    ("Which language has the most native speakers in Brazil?", ["Portuguese"]),
    ("What is the freezing point of water in degrees Celsius? Answer with the number in digits.",
     ["0"]),
    ("Who wrote the play Romeo and Juliet?", ["William Shakespeare", "Shakespeare"]),
    ("What is the smallest prime number? Answer with the number in digits.", ["2"]),
    ("On which continent is Kenya?", ["Africa"]),
    ("What is the capital city of Italy?", ["Rome"]),
    ("How many legs does a spider have? Answer with the number in digits.", ["8"]),
    ("What is the hardest natural substance?", ["diamond", "diamonds"]),
    ("Which metal is liquid at room temperature?", ["mercury"]),
    ("What is the currency of the United Kingdom?", ["pound", "pound sterling", "the pound",
                                                     "British pound", "GBP"]),
]


def facts() -> list[dict[str, object]]:
    return [
        {"id": f"fact-{i}", "type": "facts", "prompt": f"{q} Reply with the answer only.",
         "expect": {"one_of": answers}, "max_tokens": 16}
        for i, (q, answers) in enumerate(FACTS, start=1)
    ]


JSON_TASKS = [
    ("Return a JSON object describing a book with the keys title (string), author (string) and "
     "year (integer), for the novel 1984 by George Orwell, published in 1949.",
     {"type": "object", "required": ["title", "author", "year"], "additionalProperties": False,
      "properties": {"title": {"type": "string"}, "author": {"type": "string"},
                     "year": {"type": "integer", "const": 1949}}}),
    ("Return a JSON array of the three primary colours of light as lowercase strings.",
     {"type": "array", "minItems": 3, "maxItems": 3,
      "items": {"type": "string", "enum": ["red", "green", "blue"]}}),
    ("Return a JSON object with the key ok set to the boolean true and the key count set to the "
     "integer 3.",
     {"type": "object", "required": ["ok", "count"], "additionalProperties": False,
      "properties": {"ok": {"const": True}, "count": {"type": "integer", "const": 3}}}),
    ("Extract the person from this sentence as a JSON object with keys name (string) and age "
     "(integer): 'Maria Lopez, aged 34, moved to Porto last spring.'",
     {"type": "object", "required": ["name", "age"],
      "properties": {"name": {"type": "string", "pattern": "Maria"},
                     "age": {"type": "integer", "const": 34}}}),
    ("Return a JSON object for a temperature reading with keys unit (either \"C\" or \"F\") and "
     "value (a number): it is 21.5 degrees Celsius.",
     {"type": "object", "required": ["unit", "value"], "additionalProperties": False,
      "properties": {"unit": {"enum": ["C"]}, "value": {"type": "number", "minimum": 21.5,
                                                        "maximum": 21.5}}}),
    ("Return a JSON array of the integers from 1 to 5 in increasing order.",
     {"type": "array", "minItems": 5, "maxItems": 5, "items": {"type": "integer"}}),
]


def json_tasks() -> list[dict[str, object]]:
    return [
        {"id": f"json-{i}", "type": "json", "prompt": f"{p} Reply with the JSON only.",
         "expect": {"json_schema": schema}, "max_tokens": 160}
        for i, (p, schema) in enumerate(JSON_TASKS, start=1)
    ]


# -- reasoning: math, code, commonsense, writing, extraction ---------------------------------------

NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun"]
THINGS = ["apples", "marbles", "stamps", "books", "coins", "pencils", "cards", "shells"]


def math_rows(rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for i in range(1, 26):
        name, thing = rng.choice(NAMES), rng.choice(THINGS)
        a, b, c = rng.randint(5, 60), rng.randint(2, 9), rng.randint(1, 20)
        kind = i % 5
        if kind == 0:
            text = (f"{name} has {a} {thing}, buys {b} packs of {c} more and gives away {b + c}. "
                    f"How many {thing} does {name} have now?")
            value = a + b * c - (b + c)
        elif kind == 1:
            text = (f"A train travels {a * b} km in {b} hours at a constant speed. How many km "
                    f"does it travel in {c} hours?")
            value = a * c
        elif kind == 2:
            text = f"What is the sum of all whole numbers from 1 to {a}?"
            value = a * (a + 1) // 2
        elif kind == 3:
            text = (f"A shop sells {thing} at {b} dollars each, or {c + b} for the price of "
                    f"{c + b - 1}. How many dollars do {c + b} {thing} cost?")
            value = (c + b - 1) * b
        else:
            text = (f"{name} is {a} years old. {name}'s mother is {b + 20} years older. How old "
                    f"will the mother be in {c} years?")
            value = a + b + 20 + c
        rows.append({"id": f"math-{i}", "type": "math", "prompt": f"{text} {ONLY_NUMBER}",
                     "expect": {"number": value}, "max_tokens": 64})
    return rows


def code_rows(rng: random.Random) -> list[dict[str, object]]:
    templates = [
        "len('{w}' * {n})",
        "sum(range({n}))",
        "sorted([{a}, {b}, {n}])[1]",
        "'{w}'.count('{ch}')",
        "len([x for x in range({a}) if x % {n} == 0])",
        "{a} // {n} + {a} % {n}",
        "max(len(s) for s in '{w} {w2} ab'.split())",
        "int('{a}') * {n} - {b}",
    ]
    words = ["banana", "mississippi", "parallel", "letter", "committee", "balloon"]
    rows = []
    for i in range(1, 21):
        w, w2 = rng.choice(words), rng.choice(words)
        expr = templates[i % len(templates)].format(
            w=w, w2=w2, ch=rng.choice(w), n=rng.randint(2, 9), a=rng.randint(10, 99),
            b=rng.randint(1, 50),
        )
        value = eval(expr)  # noqa: S307 - our own template
        rows.append({"id": f"code-{i}", "type": "code",
                     "prompt": f"What does this Python expression evaluate to?\n\n    {expr}\n\n"
                               f"{ONLY_NUMBER}",
                     "expect": {"number": value}, "max_tokens": 64})
    return rows


COMMONSENSE = [
    ("If you put ice cubes in a hot drink, do they melt or grow?", ["melt", "they melt"]),
    ("Is a feather or a brick heavier, if both are the usual size?", ["brick", "a brick",
                                                                      "the brick"]),
    ("Can a person see in a completely dark room without any light? Answer yes or no.", ["no"]),
    ("If today is Monday, what day will it be in three days?", ["Thursday"]),
    ("Which is colder, a freezer or an oven?", ["freezer", "a freezer", "the freezer"]),
    ("You drop a glass on a stone floor. Is it more likely to break or to bounce?",
     ["break", "it breaks", "to break"]),
    ("Do fish need water to breathe? Answer yes or no.", ["yes"]),
    ("Which comes first in a day, sunrise or noon?", ["sunrise"]),
    ("If a box is inside a bag, and the bag is inside a car, is the box inside the car? Answer "
     "yes or no.", ["yes"]),
    ("Is it safe to touch a hot stove with bare hands? Answer yes or no.", ["no"]),
    ("Which is longer, a week or a month?", ["month", "a month"]),
    ("If you have three apples and eat one, how many are left? Answer with the number in digits.",
     ["2"]),
    ("Would an umbrella keep you drier in the rain or in the sun?", ["rain", "in the rain"]),
    ("Which animal can fly, a penguin or a sparrow?", ["sparrow", "a sparrow"]),
    ("Do you need a key or a spoon to open a locked door?", ["key", "a key"]),
    ("Is the Moon visible in the sky only at night? Answer yes or no.", ["no"]),
    ("If water is left in a freezer overnight, does it become ice or steam?", ["ice"]),
    ("Which is bigger, a mouse or an elephant?", ["elephant", "an elephant"]),
    ("Can you cut bread with a spoon as easily as with a knife? Answer yes or no.", ["no"]),
    ("Which season usually comes after winter?", ["spring"]),
]


def commonsense_rows() -> list[dict[str, object]]:
    return [
        {"id": f"common-{i}", "type": "commonsense", "prompt": f"{q} Reply with the answer only.",
         "expect": {"one_of": answers}, "max_tokens": 64}
        for i, (q, answers) in enumerate(COMMONSENSE, start=1)
    ]


def writing_rows() -> list[dict[str, object]]:
    forms = ["a haiku", "a two-sentence story", "a short product description",
             "a polite email declining an invitation", "a limerick"]
    topics = ["a lighthouse", "morning coffee", "a lost umbrella", "a mountain train"]
    return [
        {"id": f"write-{i}", "type": "writing", "prompt": f"Write {form} about {topic}.",
         "max_tokens": 200}
        for i, (form, topic) in enumerate(((f, t) for f in forms for t in topics), start=1)
    ]


def extraction_rows(rng: random.Random) -> list[dict[str, object]]:
    rows = []
    cities = ["Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Perth", "Quito", "Riga"]
    for i in range(1, 21):
        name, city = rng.choice(NAMES), rng.choice(cities)
        year, amount = rng.randint(1950, 2020), rng.randint(120, 990)
        text = (f"In {year}, {name} opened a small bakery in {city}. The first month brought "
                f"{amount} customers, and by the end of the year the shop had hired three people.")
        if i % 2:
            rows.append({"id": f"extract-{i}", "type": "extraction",
                         "prompt": f"{text}\n\nIn which year did the bakery open? {ONLY_NUMBER}",
                         "expect": {"number": year}, "max_tokens": 64})
        else:
            schema = {"type": "object", "required": ["city", "customers"],
                      "properties": {"city": {"type": "string", "enum": [city]},
                                     "customers": {"type": "integer", "const": amount}}}
            rows.append({"id": f"extract-{i}", "type": "extraction",
                         "prompt": f"{text}\n\nReturn a JSON object with the keys city (string) "
                                   "and customers (integer, the first month). Reply with the "
                                   "JSON only.",
                         "expect": {"json_schema": schema}, "max_tokens": 96})
    return rows


def write(name: str, rows: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (HERE / name).write_text(text, encoding="utf-8")


def main() -> None:
    write("arithmetic.jsonl", arithmetic(random.Random(1)))
    write("facts.jsonl", facts())
    write("json.jsonl", json_tasks())
    rng = random.Random(2)
    rows = math_rows(rng) + code_rows(rng) + commonsense_rows() + writing_rows()
    rows += extraction_rows(rng)
    for row in rows:  # thinking counts against num_predict: the suite sets a generous limit
        row.pop("max_tokens", None)
    write("reasoning.jsonl", rows)


if __name__ == "__main__":
    main()
