#!/usr/bin/env python3
"""Writes assets/char_trigrams.tsv, the character trigram counts behind the gibberish check
(src/signals/gibberish.rs), from sentence files laid out like ../shared/data/langid/.

Usage: scripts/char_model.py DIR > assets/char_trigrams.tsv

Words are normalized as the service does (NFC, lower case, ё → е, letters only) and counted
with two start marks and one end mark ("^^слово$"). Languages are pooled by script: the
check asks whether a text reads like *some* language of its alphabet, so feedback in a
neighbouring language or with loanwords is not taken for keyboard mashing.
"""
import collections
import pathlib
import re
import sys
import unicodedata

CYRILLIC = ["ru", "uk", "be", "bg", "mk", "sr", "kk"]
LATIN = ["sl", "en", "hr", "bs", "sk", "cs", "pl"]
WORD = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*")


def sentences(directory, language):
    name = f"{language}-sentences.txt"
    path = directory / name
    if not path.exists():
        path = directory / "other" / name
    return path.read_text(encoding="utf-8").splitlines()


def normalized_words(line):
    line = unicodedata.normalize("NFC", line).lower().replace("ё", "е")
    for word in WORD.findall(line):
        letters = "".join(c for c in word if c.isalpha())
        if letters:
            yield letters


def main():
    directory = pathlib.Path(sys.argv[1])
    print("# Character trigram counts for the gibberish check (src/signals/gibberish.rs).")
    print("# Written by scripts/char_model.py from the lingua-rs test sentences (Leipzig")
    print("# Wortschatz web text, Apache-2.0) of: " + " ".join(CYRILLIC + LATIN) + ".")
    print("# script<TAB>trigram<TAB>count; ^ marks a word's start, $ its end.")
    for script, languages in (("cyrillic", CYRILLIC), ("latin", LATIN)):
        counts = collections.Counter()
        for language in languages:
            for line in sentences(directory, language):
                for word in normalized_words(line):
                    marked = "^^" + word + "$"
                    for i in range(2, len(marked)):
                        counts[marked[i - 2 : i + 1]] += 1
        for trigram, count in sorted(counts.items()):
            print(f"{script}\t{trigram}\t{count}")


if __name__ == "__main__":
    main()
