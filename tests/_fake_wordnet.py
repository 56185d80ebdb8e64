"""A tiny fake WordNet 3.0 noun dictionary (``data.noun`` / ``index.noun`` lines), shared by the
benchmark parser's tests and the product synset tower's."""

# offsets 10 entity, 20 animal, 30 dog, 40 goose, 50 cad (dog's second sense, an @i instance of
# entity, with a hyponym pointer ~ that is no hypernym), 60 a synset of 11 lemmas (w_cnt 0b is
# hexadecimal)
DATA = """  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
00000010 03 n 01 entity 0 000 | a thing
00000020 05 n 02 animal 0 beast 0 001 @ 00000010 n 0000 | a living creature
00000030 05 n 02 dog 0 domestic_dog 0 001 @ 00000020 n 0000 | a domestic canine
00000040 05 n 01 goose 0 001 @ 00000020 n 0000 | a bird
00000050 18 n 01 cad 0 002 @i 00000010 n 0000 ~ 00000030 n 0000 | a man who behaves badly
00000060 03 n 0b {} 001 @ 00000010 n 0000 | eleven names
""".format(" ".join(f"l{k} 0" for k in range(11)))
INDEX = """  1 This software and database is being provided to you, the LICENSEE, by
animal n 1 1 @ 1 0 00000020
dog n 2 1 @ 2 0 00000030 00000050
entity n 1 0 1 0 00000010
goose n 1 1 @ 1 0 00000040
"""
