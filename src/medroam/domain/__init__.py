"""Pure business rules: no I/O, no framework imports.

Money is integer fen (分) everywhere in the domain; ratios are integer ten-thousandths
(万分比, the 4-decimal precision of the interface's N(5,4) ratio fields).
"""
