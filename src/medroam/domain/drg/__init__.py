"""DRG/DIP: the CHS-DRG grouper, DRG and DIP payment, the settlement list (结算清单) QC.

Plain Python, no I/O. The rule tables are data: ``medroam.refdata.drg`` parses a table set
(CHS-DRG 1.1 is packaged) into a ``Scheme`` and the grouper only interprets it.
"""
