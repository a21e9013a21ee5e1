"""Drive the real gateway over HTTP as many hospitals at once.

* :class:`SimClock` — the simulated calendar: the gateway (``GatewaySettings.clock``) and
  every HIS client read it, so a visit of 15 October is registered, signed (TIF
  timestamps) and settled on 15 October. Within a day it runs from 08:00 at the speed
  of real time; :meth:`SimClock.release` goes back to real time (the server a demo keeps
  running).
* :class:`GatewayServer` — uvicorn in a background thread on a free or given port.
* :class:`Driver` — one :class:`~medroam.client.HisClient` per hospital (its ``msgid``
  sequence is per institution), a thread pool, day after day: a day's encounters run
  concurrently, one person's in order (their accumulators and account decide their next
  settlement, so the totals do not depend on the interleaving). Each encounter is what
  a HIS does: 1101, then 2201 → 2204 → 2207 for a visit; 2401 on the admission day and
  2301 → 2402 → 2304 → 4101 (the settlement list, which the platform groups) on the
  discharge day for a stay; 2208 / 2305 when the hospital cancels a settlement (its stay
  then sends no list). What each answer said is kept in the HIS's own books
  (:class:`Settled`), which reconciliation (3201) and the tests compare with the centre.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import uvicorn
from sqlalchemy import Engine

from medroam.client import CallError, HisClient
from medroam.domain.money import yuan_to_fen
from medroam.netutil import free_port, port_problem
from medroam.sim.behaviour import person_rng
from medroam.sim.lists import years_on
from medroam.sim.people import VOUCHER_CARD, VOUCHER_E, VOUCHER_ID
from medroam.sim.seed import SeedInstitution, SeedPerson
from medroam.sim.visits import INPATIENT, OUTPATIENT, Encounter

CHINA_TZ = timezone(timedelta(hours=8), "CST")
DAY_START_HOUR = 8
BUSY_RETRIES = 4

Progress = Callable[[str, int, int], None]  # (what, done, total)


def _no_progress(what: str, done: int, total: int) -> None:
    return None


def _diagnosis_rows(e: Encounter) -> list[dict[str, str]]:
    """``diseinfo`` rows of a stay: 西医诊断 (``diag_type`` 1), the principal first
    (``maindiag_flag`` 1, ``diag_srt_no`` 1), then the other diagnoses."""
    return [
        {
            "diag_type": "1",
            "maindiag_flag": "1" if n == 1 else "0",
            "diag_srt_no": str(n),
            "diag_code": d.code,
            "diag_name": d.name,
        }
        for n, d in enumerate((e.diagnosis, *e.secondary), start=1)
    ]


# --- the clock ------------------------------------------------------------------------------


class SimClock:
    """Simulated local time (UTC+8), shared by the gateway and the HIS clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._base: datetime | None = None
        self._started = 0.0

    def set_day(self, day: date, hour: int = DAY_START_HOUR) -> None:
        """From now on the clock reads ``day`` ``hour``:00 plus the real time elapsed."""
        with self._lock:
            self._base = datetime(day.year, day.month, day.day, hour, tzinfo=CHINA_TZ)
            self._started = time.monotonic()

    def release(self) -> None:
        """Back to real time."""
        with self._lock:
            self._base = None

    @property
    def simulated(self) -> bool:
        return self._base is not None

    def now(self) -> datetime:
        with self._lock:
            base, started = self._base, self._started
        if base is None:
            return datetime.now(CHINA_TZ)
        elapsed = min(time.monotonic() - started, (23 - base.hour) * 3600 + 3599)
        return base + timedelta(seconds=elapsed)

    def __call__(self) -> datetime:
        return self.now()

    def timestamp(self) -> float:
        return self.now().timestamp()


# --- the server -----------------------------------------------------------------------------


class GatewayServer:
    """The gateway (and its agency API) served by uvicorn in a background thread."""

    def __init__(
        self,
        engine: Engine,
        clock: SimClock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.host = host
        self.port = port or free_port(host)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        from medroam.gateway.app import create_app
        from medroam.gateway.settings import GatewaySettings

        problem = port_problem(self.host, self.port)
        if problem:
            raise OSError(problem)
        app = create_app(self.engine, GatewaySettings(clock=self.clock))
        config = uvicorn.Config(
            app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            log_config=None,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="medroam-gateway", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise OSError(f"the gateway did not start on {self.url}")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C in the CLI)."""
        if self._thread is not None:
            while self._thread.is_alive():
                self._thread.join(0.5)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None


# --- the HIS side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settled:
    """One settlement as the HIS booked it from the answer (a cancellation is its own,
    negative, record)."""

    setl_id: str
    key: str  # the encounter
    kind: str  # outpatient / inpatient
    reason: str
    psn_no: str
    insutype: str
    insured_region: str
    treatment_region: str
    fixmedins_code: str
    clr_type: str
    clr_optins: str
    day: date
    medfee: int
    fund: int  # fund_pay_sumamt
    pool: int  # hifp_pay
    account: int  # acct_pay (own account and mutual aid)
    mutual_aid: int  # acct_mulaid_pay
    cash: int  # psn_cash_pay
    fulamt_ownpay: int
    reverse: bool = False
    reverses: str = ""  # setl_id of the original

    @property
    def cross(self) -> str:
        if self.insured_region == self.treatment_region:
            return "local"
        if self.insured_region[:2] == self.treatment_region[:2]:
            return "intra_province"
        return "inter_province"


@dataclass(slots=True)
class Books:
    """What the simulated hospitals recorded: settlements, refusals, calls."""

    settled: list[Settled] = field(default_factory=list)
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, every call
    open_stays: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # encounter key → last refusal
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, infno: str, message: str, key: str) -> None:
        short = _short_reason(message)
        with self.lock:
            self.refused[key] = f"{infno}: {message[:300]}"
            self.refusals[(infno, short)] += 1
            self.examples.setdefault((infno, short), f"{key}: {message[:300]}")

    def book(self, s: Settled) -> None:
        with self.lock:
            self.settled.append(s)


def _short_reason(message: str) -> str:
    """A refusal message without its ids, so that refusals group by cause."""
    words = []
    for word in message.replace(":", " ").split():
        if sum(ch.isdigit() for ch in word) >= 4:
            words.append("…")
        else:
            words.append(word)
    return " ".join(words)[:120]


def _fen(value: Any) -> int:
    if value is None or value == "":
        return 0
    return yuan_to_fen(Decimal(str(value)))


def yuan_text(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def price_text(micro: int) -> str:
    text = f"{micro // 1_000_000}.{micro % 1_000_000:06d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True, slots=True)
class Who:
    """What a HIS reads from a patient's voucher."""

    psn_no: str
    certno: str
    insutype: str
    insured_region: str
    e_voucher: str
    card_no: str
    card_sn: str
    gender: str  # gend: 1 male, 2 female (the settlement list's)
    birth_date: date

    @staticmethod
    def of(p: SeedPerson) -> Who:
        who = p.identity
        return Who(
            p.psn_no,
            who.certno,
            p.insutype,
            p.insured_region,
            who.e_voucher,
            who.card_no,
            who.card_sn,
            who.gender,
            who.birth_date,
        )


class Driver:
    """Runs encounters against the gateway at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        clock: SimClock,
        institutions: Iterable[SeedInstitution],
        persons: Mapping[str, Who],
        *,
        seed: int,
        concurrency: int = 4,
        timeout: float = 60.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.base_url = base_url
        self.clock = clock
        self.seed = seed
        self.persons = persons
        self.concurrency = concurrency
        self.books = Books()
        self._institutions = {i.code: i for i in institutions}
        self._clients: dict[str, HisClient] = {}
        self._clients_lock = threading.Lock()
        self._timeout = timeout
        self._admitted: dict[str, tuple[str, datetime]] = {}  # key → (mdtrt_id, admitted at)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def client(self, code: str) -> HisClient:
        with self._clients_lock:
            found = self._clients.get(code)
            if found is None:
                inst = self._institutions[code]
                tif = next(c for c in inst.credentials if c.scheme == "tif")
                found = HisClient(
                    self.base_url,
                    inst.code,
                    inst.name,
                    inst.region,
                    scheme="tif",
                    key_id=tif.key_id,
                    secret=tif.secret,
                    clock=self.clock.timestamp,
                    timeout=self._timeout,
                )
                self._clients[code] = found
            return found

    # --- one call -------------------------------------------------------------------

    def call(
        self, client: HisClient, infno: str, inp: dict[str, Any], key: str, insuplc: str = ""
    ) -> dict[str, Any] | None:
        """``output`` of one transaction, or None after booking the refusal. A "database
        busy" refusal (not stored under its msgid) is retried with a new msgid."""
        for attempt in range(BUSY_RETRIES + 1):
            started = time.perf_counter()
            try:
                answer = client.call(infno, inp, insuplc_admdvs=insuplc)
            except CallError as exc:
                self.books.refuse(infno, f"transport: {exc}", key)
                return None
            finally:
                elapsed = time.perf_counter() - started
                with self.books.lock:
                    self.books.calls[infno] += 1
                    self.books.latencies.append(elapsed)
            if answer.get("infcode") == 0:
                output = answer.get("output")
                return output if isinstance(output, dict) else {}
            message = str(answer.get("err_msg") or "")
            if "busy" in message and attempt < BUSY_RETRIES:
                time.sleep(0.05 * (attempt + 1))
                continue
            self.books.refuse(infno, message, key)
            return None
        return None  # pragma: no cover

    # --- encounters -----------------------------------------------------------------

    def _voucher(self, who: Who, e: Encounter) -> dict[str, str]:
        roll = person_rng(self.seed, who.psn_no, "voucher", e.key).random()
        if roll < 0.6:
            return {"mdtrt_cert_type": VOUCHER_E, "mdtrt_cert_no": who.e_voucher}
        if roll < 0.85:
            return {
                "mdtrt_cert_type": VOUCHER_CARD,
                "mdtrt_cert_no": who.card_no,
                "card_sn": who.card_sn,
            }
        return {"mdtrt_cert_type": VOUCHER_ID, "mdtrt_cert_no": who.certno}

    def _lookup(self, client: HisClient, who: Who, voucher: dict[str, str], key: str) -> str | None:
        """1101; the place of insurance of the patient's insurance."""
        out = self.call(
            client,
            "1101",
            {"data": {**voucher, "psn_cert_type": "01", "certno": who.certno, "psn_name": ""}},
            key,
            insuplc=client.region,
        )
        if out is None:
            return None
        for insu in out.get("insuinfo") or ():
            if insu.get("insutype") == who.insutype:
                return str(insu.get("insuplc_admdvs"))
        self.books.refuse("1101", f"no {who.insutype} insurance in the answer", key)
        return None

    def _now_text(self) -> str:
        return f"{self.clock.now():%Y-%m-%d %H:%M:%S}"

    def _fee_rows(
        self, e: Encounter, mdtrt_id: str, who: Who, times: Sequence[datetime]
    ) -> list[dict[str, Any]]:
        rows = []
        for line, at in zip(e.lines, times, strict=True):
            row: dict[str, Any] = {
                "feedetl_sn": line.sn,
                "mdtrt_id": mdtrt_id,
                "psn_no": who.psn_no,
                "chrg_bchno": "" if e.kind == INPATIENT else "CB1",
                "med_type": e.med_type,
                "fee_ocur_time": f"{at:%Y-%m-%d %H:%M:%S}",
                "med_list_codg": line.code,
                "medins_list_codg": f"{e.hospital.code[-5:]}-{line.code[-8:]}",
                "det_item_fee_sumamt": yuan_text(line.amount),
                "cnt": str(line.quantity),
                "pric": price_text(line.price),
                "bilg_dept_codg": e.diagnosis.dept_code,
                "bilg_dept_name": e.diagnosis.dept_name,
                "bilg_dr_codg": "D" + e.hospital.code[-4:],
                "bilg_dr_name": "医师",
                "hosp_appr_flag": "1" if line.approved else "0",
            }
            rows.append(row)
        return rows

    def _book(self, e: Encounter, who: Who, info: Mapping[str, Any], reverse: bool) -> Settled:
        s = Settled(
            setl_id=str(info.get("setl_id", "")),
            key=e.key,
            kind=e.kind,
            reason=e.reason,
            psn_no=who.psn_no,
            insutype=who.insutype,
            insured_region=who.insured_region,
            treatment_region=e.hospital.region,
            fixmedins_code=e.hospital.code,
            clr_type=str(info.get("clr_type", "")),
            clr_optins=str(info.get("clr_optins", "")),
            day=e.day,
            medfee=_fen(info.get("medfee_sumamt")),
            fund=_fen(info.get("fund_pay_sumamt")),
            pool=_fen(info.get("hifp_pay")),
            account=_fen(info.get("acct_pay")),
            mutual_aid=_fen(info.get("acct_mulaid_pay")),
            cash=_fen(info.get("psn_cash_pay")),
            fulamt_ownpay=_fen(info.get("fulamt_ownpay_amt")),
            reverse=reverse,
            reverses=str(info.get("init_setl_id", "")) if reverse else "",
        )
        self.books.book(s)
        return s

    def outpatient(self, e: Encounter) -> None:
        who = self.persons[e.psn_no]
        client = self.client(e.hospital.code)
        voucher = self._voucher(who, e)
        insuplc = self._lookup(client, who, voucher, e.key)
        if insuplc is None:
            return
        reg = self.call(
            client,
            "2201",
            {
                "data": {
                    "psn_no": who.psn_no,
                    "insutype": who.insutype,
                    "begntime": self._now_text(),
                    **voucher,
                    "ipt_otp_no": f"MZ{who.psn_no}{e.day:%y%m%d}{e.key[-1]}",
                    "atddr_no": "D" + e.hospital.code[-4:],
                    "dr_name": "医师",
                    "dept_code": e.diagnosis.dept_code,
                    "dept_name": e.diagnosis.dept_name,
                    "caty": e.diagnosis.dept_code,
                    **({"exp_content": {"OTP_ER_REFL_FLAG": "1"}} if e.emergency else {}),
                }
            },
            e.key,
            insuplc,
        )
        if reg is None:
            return
        mdtrt_id = str(reg["data"]["mdtrt_id"])
        now = self.clock.now()
        rows = self._fee_rows(e, mdtrt_id, who, [now] * len(e.lines))
        if self.call(client, "2204", {"feedetail": rows}, e.key, insuplc) is None:
            return
        data = {
            "psn_no": who.psn_no,
            "mdtrt_cert_type": voucher["mdtrt_cert_type"],
            "mdtrt_cert_no": voucher["mdtrt_cert_no"],
            "med_type": e.med_type,
            "medfee_sumamt": yuan_text(e.medfee),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": "CB1",
            "insutype": who.insutype,
            "acct_used_flag": "1",
        }
        out = self.call(client, "2207", {"data": data}, e.key, insuplc)
        if out is None:
            return
        settled = self._book(e, who, out["setlinfo"], reverse=False)
        if e.cancel:
            back = self.call(
                client,
                "2208",
                {"data": {"setl_id": settled.setl_id, "mdtrt_id": mdtrt_id, "psn_no": who.psn_no}},
                e.key,
                insuplc,
            )
            if back is not None:
                self._book(e, who, back["setlinfo"], reverse=True)

    def admit(self, e: Encounter) -> None:
        who = self.persons[e.psn_no]
        client = self.client(e.hospital.code)
        voucher = self._voucher(who, e)
        insuplc = self._lookup(client, who, voucher, e.key)
        if insuplc is None:
            return
        at = self.clock.now()
        diag = e.diagnosis
        out = self.call(
            client,
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": who.psn_no,
                    "insutype": who.insutype,
                    "begntime": f"{at:%Y-%m-%d %H:%M:%S}",
                    **voucher,
                    "med_type": e.med_type,
                    "ipt_no": f"ZY{who.psn_no}{e.admit:%y%m%d}{e.key[-1]}",
                    "atddr_no": "D" + e.hospital.code[-4:],
                    "chfpdr_name": "医师",
                    "adm_diag_dscr": diag.name,
                    "adm_dept_codg": diag.dept_code,
                    "adm_dept_name": diag.dept_name,
                    "adm_bed": str(1 + int(who.psn_no[-4:]) % 60),
                    "dscg_maindiag_code": diag.code,
                    "dscg_maindiag_name": diag.name,
                    **({"exp_content": {"IPT_TYPE": "2"}} if e.emergency else {}),
                },
                "diseinfo": [
                    {"psn_no": who.psn_no, **row, "diag_time": f"{at:%Y-%m-%d %H:%M:%S}"}
                    for row in _diagnosis_rows(e)
                ],
            },
            e.key,
            insuplc,
        )
        if out is None:
            return
        result = out.get("result") or out.get("data") or {}
        with self.books.lock:
            self._admitted[e.key] = (str(result["mdtrt_id"]), at)

    def discharge(self, e: Encounter) -> None:
        with self.books.lock:
            admitted = self._admitted.pop(e.key, None)
        if admitted is None:
            return  # the admission was refused (booked there)
        mdtrt_id, admitted_at = admitted
        who = self.persons[e.psn_no]
        client = self.client(e.hospital.code)
        insuplc = who.insured_region
        now = self.clock.now()
        times = []
        for line in e.lines:
            day = e.admit + timedelta(days=line.day_offset)
            at = datetime(day.year, day.month, day.day, 10, tzinfo=CHINA_TZ)
            # a line dated before the admission (a planted anomaly) is sent as dated
            times.append(at if line.day_offset < 0 else min(max(at, admitted_at), now))
        rows = self._fee_rows(e, mdtrt_id, who, times)
        if self.call(client, "2301", {"feedetail": rows}, e.key, insuplc) is None:
            return
        diag = e.diagnosis
        discharged = self.call(
            client,
            "2402",
            {
                "dscginfo": {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": who.psn_no,
                    "insutype": who.insutype,
                    "endtime": self._now_text(),
                    "dscg_way": "1",
                    "dscg_dept_codg": diag.dept_code,
                    "dscg_dept_name": diag.dept_name,
                },
                "diseinfo": [
                    {"psn_no": who.psn_no, "mdtrt_id": mdtrt_id, **row}
                    for row in _diagnosis_rows(e)
                ],
            },
            e.key,
            insuplc,
        )
        if discharged is None:
            return
        data = {
            "psn_no": who.psn_no,
            "mdtrt_cert_type": VOUCHER_ID,
            "mdtrt_cert_no": who.certno,
            "medfee_sumamt": yuan_text(e.medfee),
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "insutype": who.insutype,
            "acct_used_flag": "1",
            "mid_setl_flag": "0",
        }
        out = self.call(client, "2304", {"data": data}, e.key, insuplc)
        if out is None:
            return
        settled = self._book(e, who, out["setlinfo"], reverse=False)
        if not e.cancel:
            self.call(
                client, "4101", self._settlement_list(e, who, mdtrt_id, settled), e.key, insuplc
            )
        if e.cancel:
            back = self.call(
                client,
                "2305",
                {"data": {"mdtrt_id": mdtrt_id, "setl_id": settled.setl_id, "psn_no": who.psn_no}},
                e.key,
                insuplc,
            )
            if back is not None:
                self._book(e, who, back["setlinfo"], reverse=True)

    def _settlement_list(
        self, e: Encounter, who: Who, mdtrt_id: str, settled: Settled
    ) -> dict[str, Any]:
        """The 4101 input of a settled stay (national-interface §4.11): who, the stay's
        dates, the principal and other diagnoses (no procedures: the simulator has
        none). The platform takes the total cost from the settlement (no ``iteminfo``)."""
        inst = self._institutions[e.hospital.code]
        age = years_on(who.birth_date, e.admit)
        newborn = {"nwb_age": str((e.admit - who.birth_date).days)} if age == 0 else {}
        return {
            "setlinfo": {
                "mdtrt_id": mdtrt_id,
                "setl_id": settled.setl_id,
                "fixmedins_code": inst.code,
                "fixmedins_name": inst.name,
                "gend": who.gender,
                "brdy": f"{who.birth_date:%Y-%m-%d}",
                "age": str(age),
                **newborn,
                "insuplc": who.insured_region,
                "adm_time": f"{e.admit:%Y-%m-%d}",
                "dscg_time": f"{e.day:%Y-%m-%d}",
                "act_ipt_days": str((e.day - e.admit).days),
                "dscg_way": "1",
                "psn_ownpay": yuan_text(settled.fulamt_ownpay),
                "hi_paymtd": "1",
            },
            "diseinfo": [
                {k: row[k] for k in ("diag_type", "diag_code", "diag_name", "maindiag_flag")}
                for row in _diagnosis_rows(e)
            ],
            "oprninfo": [],
        }

    # --- the calendar ---------------------------------------------------------------

    def run(
        self, encounters: Sequence[Encounter], end: date, progress: Progress = _no_progress
    ) -> Books:
        """Every admission, visit and discharge up to ``end``, day by day."""
        steps: dict[date, dict[str, list[tuple[str, Encounter]]]] = {}
        for e in encounters:
            if e.kind == OUTPATIENT:
                if e.day <= end:
                    steps.setdefault(e.day, {}).setdefault(e.psn_no, []).append(("visit", e))
                continue
            if e.admit <= end:
                steps.setdefault(e.admit, {}).setdefault(e.psn_no, []).append(("admit", e))
            if e.day <= end:
                steps.setdefault(e.day, {}).setdefault(e.psn_no, []).append(("discharge", e))
        order = {"discharge": 0, "visit": 1, "admit": 2}
        total = sum(len(v) for day in steps.values() for v in day.values())
        done = 0
        progress("encounters", 0, total)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="his") as pool:
            for day in sorted(steps):
                self.clock.set_day(day)
                todo = [
                    sorted(items, key=lambda s: (order[s[0]], s[1].key))
                    for _, items in sorted(steps[day].items())
                ]
                for finished in pool.map(self._person_day, todo):
                    done += finished
                    progress("encounters", done, total)
        self.books.open_stays = len(self._admitted)
        return self.books

    def _person_day(self, items: Sequence[tuple[str, Encounter]]) -> int:
        for what, e in items:
            if what == "visit":
                self.outpatient(e)
            elif what == "admit":
                self.admit(e)
            else:
                self.discharge(e)
        return len(items)


# --- reconciliation (3201) and clearing applications (3203) -----------------------------------


@dataclass(frozen=True, slots=True)
class StatementResult:
    fixmedins_code: str
    insutype: str
    clr_type: str
    clr_optins: str
    count: int
    medfee: int
    fund: int
    account: int
    balanced: bool
    text: str


@dataclass(frozen=True, slots=True)
class Group:
    count: int = 0
    in_force: int = 0
    medfee: int = 0
    fund: int = 0
    account: int = 0
    cash: int = 0

    def add(self, s: Settled, *, in_force: int) -> Group:
        return Group(
            self.count + 1,
            self.in_force + in_force,
            self.medfee + s.medfee,
            self.fund + s.fund,
            self.account + s.account,
            self.cash + s.cash,
        )


def hospital_groups(
    settled: Iterable[Settled], keys: Callable[[Settled], tuple[str, ...]]
) -> dict[tuple[str, ...], Group]:
    """The HIS's totals per group (a cancelled original is not in force; its reverse
    record counts with negative amounts)."""
    cancelled = {s.reverses for s in settled if s.reverse}
    out: dict[tuple[str, ...], Group] = {}
    for s in settled:
        k = keys(s)
        in_force = 0 if s.reverse or s.setl_id in cancelled else 1
        out[k] = out.get(k, Group()).add(s, in_force=in_force)
    return out


def reconcile(
    driver: Driver, begin: date, end: date, progress: Progress = _no_progress
) -> list[StatementResult]:
    """3201 for every hospital, insutype, clearing type and clearing agency of the
    window, with the HIS's own totals (the centre answers balanced or not)."""
    groups = hospital_groups(
        driver.books.settled, lambda s: (s.fixmedins_code, s.insutype, s.clr_type, s.clr_optins)
    )
    results: list[StatementResult] = []
    lock = threading.Lock()
    items = sorted(groups.items())
    progress("3201", 0, len(items))

    def one(item: tuple[tuple[str, ...], Group]) -> None:
        (code, insutype, clr_type, optins), g = item
        out = driver.call(
            driver.client(code),
            "3201",
            {
                "data": {
                    "insutype": insutype,
                    "clr_type": clr_type,
                    "setl_optins": optins,
                    "stmt_begndate": begin.isoformat(),
                    "stmt_enddate": end.isoformat(),
                    "medfee_sumamt": yuan_text(g.medfee),
                    "fund_pay_sumamt": yuan_text(g.fund),
                    "acct_pay": yuan_text(g.account),
                    "fixmedins_setl_cnt": str(g.count),
                    "refd_setl_flag": "1",
                }
            },
            f"3201 {code}",
            optins,
        )
        info = (out or {}).get("stmtinfo") or {}
        r = StatementResult(
            code,
            insutype,
            clr_type,
            optins,
            g.count,
            g.medfee,
            g.fund,
            g.account,
            info.get("stmt_rslt") == "0",
            str(info.get("stmt_rslt_dscr", "refused")),
        )
        with lock:
            results.append(r)
            progress("3201", len(results), len(items))

    with ThreadPoolExecutor(driver.concurrency, thread_name_prefix="his") as pool:
        list(pool.map(one, items))
    return sorted(results, key=lambda r: (r.fixmedins_code, r.insutype, r.clr_type, r.clr_optins))


def apply_for_clearing(
    driver: Driver, months: Sequence[tuple[date, date]], progress: Progress = _no_progress
) -> dict[str, int]:
    """3203 for every hospital, clearing type and month (the clock must be past the
    months); returns counts of applications accepted and refused."""
    tally: Counter[str] = Counter()
    jobs: list[tuple[str, str, str, date, date, Group]] = []
    for first, last in months:
        in_month = [s for s in driver.books.settled if first <= s.day <= last]
        groups = hospital_groups(in_month, lambda s: (s.fixmedins_code, s.clr_type, s.clr_optins))
        for (code, clr_type, optins), g in sorted(groups.items()):
            jobs.append((code, clr_type, optins, first, last, g))
    lock = threading.Lock()
    progress("3203", 0, len(jobs))

    def one(job: tuple[str, str, str, date, date, Group]) -> None:
        code, clr_type, optins, first, last, g = job
        out = driver.call(
            driver.client(code),
            "3203",
            {
                "data": {
                    "clr_type": clr_type,
                    "setlym": f"{first:%Y%m}",
                    "psntime": str(g.in_force),
                    "medfee_sumamt": yuan_text(g.medfee),
                    "med_sumfee": yuan_text(g.medfee),
                    "fund_appy_sum": yuan_text(g.fund),
                    "cash_payamt": yuan_text(g.cash),
                    "acct_pay": yuan_text(g.account),
                    "begndate": first.isoformat(),
                    "enddate": last.isoformat(),
                    "clr_optins": optins,
                }
            },
            f"3203 {code}",
            optins,
        )
        with lock:
            tally["applied" if out is not None else "refused"] += 1
            progress("3203", sum(tally.values()), len(jobs))

    with ThreadPoolExecutor(driver.concurrency, thread_name_prefix="his") as pool:
        list(pool.map(one, jobs))
    return dict(tally)
