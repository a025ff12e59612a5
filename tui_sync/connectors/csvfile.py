"""The `csv` connector (DESIGN.md section 3): a file a POS or a spreadsheet exports, either side.

Reading streams the file (`utf-8-sig`, `newline=""`) twice: a scan for the bases (a row whose
SKU is another row's `parent_sku`), the row count and the capabilities, then the items, a page at
a time. An item's id is its SKU as written; the n-th repeat of a SKU is `SKU#n`, so duplicates
show as duplicates and are never merged. Every item carries the file's fingerprint (size,
mtime_ns, sha256) as its version: a write refuses a batch read from another file than the one
on disk ("refresh first"), except for the files this connector wrote itself since that read (a
short chain kept in the data dir), so a second sync needs no refresh in between.

Choices, as "the target holds it" means for a file whose cells take any text:
- money places: the most decimals the file's prices and costs already carry, and never fewer
  than 2: a column of whole prices is no sign the POS refuses cents, and 4-place costs show it
  takes 4; quantities are fractional only where the file already writes one with a point;
- negative quantities are held as a back office (books go negative), refused as a store;
  negative money and emptying a cell are refused;
- a write answers `done` when the cell already holds the value (a retry after a lost answer,
  or someone wrote it meanwhile): a repeated batch never applies twice, with no key store;
- pending orders: every line of `orders` whose status takes stock; the pair's
  `pending_statuses`, when set, lists the only statuses that count. As a back office a CSV
  cannot tell which store orders it has posted: `posted_orders` is always empty.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import itertools
import json
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tui_sync import money
from tui_sync.config import CSV_COLUMNS, Connection
from tui_sync.connectors.base import ConnectorError, Progress, group_batches
from tui_sync.model import FIELDS, Batch, Capabilities, Change, Item, PendingLine, Side
from tui_sync.model import WriteResult as Result
from tui_sync.money import BadNumber, Number

PAGE = 1000
# Statuses of an order that no longer takes stock, or whose stock has already left.
NOT_PENDING = frozenset(
    ("cancelled", "canceled", "refunded", "declined", "shipped", "completed", "complete",
     "fulfilled", "delivered", "closed", "voided", "void", "posted")
)  # fmt: skip
_DELIMITERS = ",;\t|"
_CHAIN = 20  # how many of our own rewrites in a row a read stays valid across
# A batch, and a read_current, is the whole file: one pass over it, not one per chunk.
_WHOLE_FILE = 1_000_000

Record = tuple[int, list[str], str]  # first line, cells, exact text with its line ending


class _Moved(Exception):
    """The file changed between our read and our rename."""


def _fail(label: str, error: OSError) -> ConnectorError:
    if isinstance(error, FileNotFoundError):
        return ConnectorError(f"{label}: no such file")
    if isinstance(error, IsADirectoryError):
        return ConnectorError(f"{label}: is a directory, not a CSV file")
    if isinstance(error, PermissionError):
        return ConnectorError(f"{label}: permission denied")
    return ConnectorError(f"{label}: cannot read: {error.strerror or type(error).__name__}")


def _records(lines: Iterable[str], delimiter: str) -> Iterator[Record]:
    """Each record with its exact text: the csv module pulls one line at a time, so the lines
    it took for a record are that record's text, quoted line breaks included."""
    taken: list[str] = []

    def feed() -> Iterator[str]:
        for line in lines:
            taken.append(line)
            yield line

    reader = csv.reader(feed(), delimiter=delimiter)
    start = 1
    for cells in reader:
        yield start, cells, "".join(taken)
        taken.clear()
        start = reader.line_num + 1


def _delimiter(first_line: str) -> str:
    """The header's most frequent separator (`,` `;` tab `|`), else a comma."""
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@contextlib.contextmanager
def _reading(path: Path, label: str) -> Iterator[tuple[str, Iterator[Record]]]:
    """The delimiter and the records of a file, streamed; every failure one line naming it."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            first = text.readline()
            delimiter = _delimiter(first)
            yield delimiter, _records(itertools.chain([first], text), delimiter)
    except OSError as error:
        raise _fail(label, error) from None
    except UnicodeDecodeError:
        raise ConnectorError(f"{label}: not UTF-8 text") from None
    except csv.Error as error:
        raise ConnectorError(f"{label}: not a readable CSV ({error})") from None


def _fingerprint(path: Path, data: bytes | None = None) -> str:
    """size:mtime_ns:sha256 of the file, streamed when its bytes are not already at hand."""
    size, mtime = _stat_key(path)
    digest = hashlib.sha256()
    if data is None:
        with path.open("rb") as raw:
            for chunk in iter(lambda: raw.read(1 << 20), b""):
                digest.update(chunk)
    else:
        digest.update(data)
    return f"{size}:{mtime}:{digest.hexdigest()[:32]}"


def _stat_key(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _options(text: str | None) -> tuple[tuple[str, str], ...]:
    """`Size=M;Color=Red` -> (("Size", "M"), ("Color", "Red")); any text is accepted."""
    pairs = (part.partition("=") for part in (text or "").split(";") if part.strip())
    return tuple((name.strip(), value.strip()) for name, _, value in pairs)


@dataclass
class _Layout:
    """Where our columns are in one file, and how its cells read."""

    label: str
    header: list[str]
    columns: dict[str, int]

    @classmethod
    def of(cls, label: str, header: list[str], mapping: Mapping[str, str]) -> _Layout:
        """`columns` names the file's headers; an unmapped name is our own, in any case."""
        found: dict[str, int] = {}
        for ours in CSV_COLUMNS:
            wanted = mapping.get(ours, ours).strip()
            hits = [i for i, h in enumerate(header) if h.strip() == wanted]
            if not hits and ours not in mapping:
                hits = [i for i, h in enumerate(header) if h.strip().casefold() == ours]
            if len(hits) > 1:
                raise ConnectorError(f"{label}: the header {wanted!r} appears {len(hits)} times")
            if hits:
                found[ours] = hits[0]
            elif ours in mapping or ours == "sku":
                where = f" (columns.{ours})" if ours in mapping else ""
                raise ConnectorError(f"{label}: no column {wanted!r}{where} in the header")
        return cls(label, header, found)

    def cell(self, cells: list[str], name: str) -> str | None:
        index = self.columns.get(name)
        value = cells[index] if index is not None and index < len(cells) else ""
        return value if value.strip() else None

    def number(self, cells: list[str], name: str, line: int) -> Number | None:
        if name not in self.columns:
            return None
        what = f"{self.label} line {line}, column {self.header[self.columns[name]].strip()}:"
        try:
            if name == "quantity":
                return money.parse_quantity(self.cell(cells, name), what)
            return money.parse_money(self.cell(cells, name), what)
        except BadNumber as error:
            raise ConnectorError(str(error)) from None


@dataclass
class _Scan:
    """The first pass: what the items need from the whole file before the first page."""

    first: dict[str, str] = field(default_factory=dict)  # SKU, stripped -> as first written
    skus: set[str] = field(default_factory=set)
    parents: set[str] = field(default_factory=set)
    places: int = 2
    fractional: bool = False

    def add(self, layout: _Layout, cells: list[str]) -> None:
        sku = layout.cell(cells, "sku")
        if sku is not None:
            self.first.setdefault(sku.strip(), sku)
            self.skus.add(sku)
        parent = layout.cell(cells, "parent_sku")
        if parent is not None:
            self.parents.add(parent.strip())
        for name in ("price", "cost"):
            text = layout.cell(cells, name)
            if text is not None and "." in text:
                self.places = max(self.places, min(len(text.strip().rpartition(".")[2]), 12))
        quantity = layout.cell(cells, "quantity")
        self.fractional = self.fractional or (quantity is not None and "." in quantity)

    def ids(self, layout: _Layout, records: Iterable[Record]) -> Iterator[tuple[str, Record]]:
        """Each data record with its item id: the SKU as written, `SKU#n` for its n-th repeat
        (never a SKU the file already has), `#lineN` for a row without one."""
        taken: dict[str, int] = {}
        used: set[str] = set()
        for record in records:
            line, cells, _ = record
            sku = layout.cell(cells, "sku")
            if sku is None:
                if any(c.strip() for c in cells):
                    yield f"#line{line}", record
                continue
            n = taken[sku] = taken.get(sku, 0) + 1
            item_id = sku
            while n > 1 and (item_id == sku or item_id in self.skus or item_id in used):
                item_id = f"{sku}#{n}"
                n += 1
            used.add(item_id)
            yield item_id, record

    def item(self, layout: _Layout, item_id: str, record: Record, version: str) -> Item:
        line, cells, _ = record
        sku, parent = layout.cell(cells, "sku"), layout.cell(cells, "parent_sku")
        price, cost = (layout.number(cells, f, line) for f in ("price", "cost"))
        return Item(
            id=item_id,
            sku=sku,
            name=layout.cell(cells, "name") or "",
            brand=layout.cell(cells, "brand"),
            quantity=layout.number(cells, "quantity", line),
            price=None if price is None else Decimal(price),
            cost=None if cost is None else Decimal(cost),
            parent_id=None if parent is None else self.first.get(parent.strip(), parent.strip()),
            # A base is the first row of a SKU that another row names as its parent_sku.
            is_base=sku is not None
            and sku.strip() in self.parents
            and item_id == self.first.get(sku.strip()),
            options=_options(layout.cell(cells, "options")),
            version=version,
        )

    def capabilities(self, layout: _Layout, side: Side, writable: bool) -> Capabilities:
        return Capabilities(
            writable=frozenset(f for f in FIELDS if writable and f in layout.columns),
            batch_size=_WHOLE_FILE,
            negative_quantity=side == "backoffice",
            fractional_quantity=self.fractional,
            money_places=self.places,
            has_brand="brand" in layout.columns,
            has_cost="cost" in layout.columns,
            has_options="options" in layout.columns,
            read_batch=_WHOLE_FILE,
            max_in_flight=1,
        )


_UNREADABLE = Capabilities(writable=frozenset(), batch_size=_WHOLE_FILE, read_batch=_WHOLE_FILE)


class CsvConnector:
    kind = "csv"

    def __init__(
        self,
        connection: Connection,
        side: Side,
        state_dir: Path | None = None,
        pending_statuses: Sequence[str] | None = None,
    ) -> None:
        settings = connection.settings
        self.side: Side = side
        self.path = Path(str(settings["path"]))
        self.label = str(self.path)
        orders = settings.get("orders")
        self.orders = None if orders is None else Path(str(orders))
        self.mapping = _mapping(connection)
        self.writable = settings.get("writable") is True
        self.pending = (
            None if pending_statuses is None else {s.strip().casefold() for s in pending_statuses}
        )
        # Our own rewrites, by the fingerprints they produced (see the module docstring).
        key = hashlib.sha256(os.path.realpath(self.path).encode()).hexdigest()[:16]
        self.chain_path = None if state_dir is None else state_dir / "csv" / f"{key}.json"
        self.capabilities = capabilities_for(connection, side)

    async def aclose(self) -> None:
        return None

    # --- reads ----------------------------------------------------------------------------

    def _items(self) -> Iterator[Item]:
        try:
            moved = _stat_key(self.path)  # before hashing: a change while we hash shows too
            version = _fingerprint(self.path)
        except OSError as error:
            raise _fail(self.label, error) from None
        layout, scan = _scan_file(self.path, self.mapping)
        with _reading(self.path, self.label) as (_, records):
            next(records, None)
            for item_id, record in scan.ids(layout, records):
                yield scan.item(layout, item_id, record, version)
        try:
            same = _stat_key(self.path) == moved
        except OSError as error:
            raise _fail(self.label, error) from None
        if not same:
            raise ConnectorError(f"{self.label}: changed while it was being read; refresh again")

    async def read_items(
        self, since: str | None = None, progress: Progress | None = None
    ) -> AsyncIterator[list[Item]]:
        # A file has no watermark: every read is a full one (`incremental` is False).
        page: list[Item] = []
        done = 0
        for item in self._items():
            page.append(item)
            if len(page) == PAGE:
                done += len(page)
                yield page
                page = []
                if progress is not None:
                    progress(done, None)
        if page:
            yield page
        if progress is not None:
            progress(done + len(page), done + len(page))

    def watermark(self) -> str | None:
        return None

    async def read_deleted(self, since: str) -> list[str]:
        return []

    async def read_current(self, item_ids: Sequence[str]) -> dict[str, Item]:
        wanted = set(item_ids)
        return {item.id: item for item in self._items() if item.id in wanted}

    async def read_pending(self) -> list[PendingLine]:
        if self.orders is None:
            return []
        label = str(self.orders)
        lines: list[PendingLine] = []
        with _reading(self.orders, label) as (_, records):
            _, header, _ = next(records, (1, [], ""))
            at = {h.strip().casefold(): i for i, h in enumerate(header)}
            for name in ("order_id", "sku", "quantity"):
                if name not in at:
                    raise ConnectorError(f"{label}: no column {name!r} in the header")
            for line, cells, _ in records:
                get = {k: (cells[i].strip() if i < len(cells) else "") for k, i in at.items()}
                status = get.get("status", "")
                if not any(get.values()) or not self._takes_stock(status):
                    continue
                what = f"{label} line {line}, column {header[at['quantity']].strip()}:"
                try:
                    quantity = money.parse_quantity(get["quantity"], what)
                except BadNumber as error:
                    raise ConnectorError(str(error)) from None
                if quantity is None:
                    raise ConnectorError(f"{what} empty, expected a quantity")
                lines.append(PendingLine(get["order_id"], get["sku"], quantity, status))
        return lines

    def _takes_stock(self, status: str) -> bool:
        folded = status.strip().casefold()
        if self.pending is not None:
            return folded in self.pending
        return folded not in NOT_PENDING

    async def posted_orders(self, order_ids: Sequence[str]) -> set[str]:
        return set()  # a CSV cannot tell which store orders it has posted (module docstring)

    # --- writes ---------------------------------------------------------------------------

    def batches(self, changes: Sequence[Change]) -> list[list[Change]]:
        return group_batches(changes, self.capabilities)

    async def write(self, batch: Batch) -> list[Result]:
        """One rewrite of the whole file for the batch; it holds the file in memory."""
        if not self.writable:
            why = f"{self.label} is not writable (set writable = true)"
            return [Result(c.id, "rejected", why) for c in batch.changes]
        target = Path(os.path.realpath(self.path))  # a symlink stays a symlink
        try:
            before = _stat_key(target)
            data = target.read_bytes()
            fingerprint = _fingerprint(target, data)
        except OSError as error:
            raise _fail(self.label, error) from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConnectorError(f"{self.label}: not UTF-8 text") from None
        delimiter = _delimiter(io.StringIO(text, newline="").readline())
        try:
            records = list(_records(io.StringIO(text, newline=""), delimiter))
        except csv.Error as error:
            raise ConnectorError(f"{self.label}: not a readable CSV ({error})") from None
        if "".join(r[2] for r in records) != text:  # every byte must be accounted for
            raise ConnectorError(f"{self.label}: cannot be rewritten faithfully")
        layout = _Layout.of(self.label, records[0][1] if records else [], self.mapping)
        scan = _Scan()
        for _, cells, _ in records[1:]:
            scan.add(layout, cells)
        at = {id(record): n for n, record in enumerate(records)}  # record 0 is the header
        rows = {item_id: at[id(record)] for item_id, record in scan.ids(layout, records[1:])}
        chain = self._chain()
        chain = chain if chain and chain[-1] == fingerprint else [fingerprint]
        if any(c.version is not None and c.version not in chain for c in batch.changes):
            why = f"{self.label}: the file changed since it was read; refresh first"
            return [
                Result(c.id, "conflict", why, _now(layout, records, rows, c)) for c in batch.changes
            ]
        caps = scan.capabilities(layout, self.side, self.writable)
        results = [self._change(layout, records, rows, c, caps, delimiter) for c in batch.changes]
        if not any(edited for _, edited in results):
            return [r for r, _ in results]
        body = "".join(r[2] for r in records)
        new = (codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b"") + body.encode()
        try:
            written = self._rewrite(target, new, before)
        except _Moved:
            why = f"{self.label}: the file changed while it was being written; refresh first"
            return [Result(c.id, "conflict", why) for c in batch.changes]
        except OSError as error:
            reason = error.strerror or type(error).__name__
            why = f"{self.label}: could not rewrite ({reason}); the file is unchanged"
            return [Result(c.id, "rejected", why) for c in batch.changes]
        self._remember([*chain, written])
        return [Result(r.change_id, r.outcome, r.reason, r.value, written) for r, _ in results]

    def _change(
        self,
        layout: _Layout,
        records: list[Record],
        rows: dict[str, int],
        change: Change,
        caps: Capabilities,
        delimiter: str,
    ) -> tuple[Result, bool]:
        """The result of one change, and whether its cell was edited in `records`."""
        name = f"{change.sku} {change.field}"
        n = rows.get(change.item_id)
        if n is None:
            return Result(change.id, "rejected", f"{name}: no longer in {self.label}"), False
        if change.field not in layout.columns:
            return Result(change.id, "rejected", f"{name}: the file has no such column"), False
        line, cells, raw = records[n]
        try:
            now = layout.number(cells, change.field, line)
        except ConnectorError as error:
            return Result(change.id, "rejected", str(error)), False
        if now is not None and change.after is not None and now == change.after:
            return Result(change.id, "done", "already held", now), False  # a repeat: harmless
        if now != change.before:
            held = "empty" if now is None else money.text(now)
            was = "empty" if change.before is None else money.text(change.before)
            moved = f"{change.field} is {held} now, was {was} when read"
            return Result(change.id, "conflict", moved, now), False
        why = _cannot_hold(change, caps)
        if why:
            return Result(change.id, "rejected", f"{name}: {why}"), False
        index = layout.columns[change.field]
        cells = [*cells, *[""] * (index + 1 - len(cells))]
        cells[index] = money.text(change.after) or ""
        records[n] = (line, cells, _splice(raw, cells, index, delimiter))
        return Result(change.id, "done", None, change.after), True

    def _rewrite(self, target: Path, data: bytes, before: tuple[int, int]) -> str:
        """Replace the file atomically (temp file beside it, fsync, rename, fsync the folder);
        on any failure the old file stays as it was. Returns the new file's fingerprint."""
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
            if _stat_key(target) != before:  # the last look before the swap
                raise _Moved
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(target.parent)
        return _fingerprint(target, data)

    # --- our own rewrites -------------------------------------------------------------------

    def _chain(self) -> list[str]:
        if self.chain_path is None:
            return []
        try:
            found = json.loads(self.chain_path.read_text())
        except (OSError, ValueError):
            return []
        return [str(f) for f in found] if isinstance(found, list) else []

    def _remember(self, chain: list[str]) -> None:
        """Best effort: a chain that cannot be kept only means the next sync asks for a refresh."""
        if self.chain_path is None:
            return
        with contextlib.suppress(OSError):
            self.chain_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.chain_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(chain[-_CHAIN:]))
            os.replace(tmp, self.chain_path)


def _cannot_hold(change: Change, caps: Capabilities) -> str | None:
    after = change.after
    if after is None:
        return "a sync never empties a cell"
    if change.field == "quantity":
        if isinstance(after, Decimal) and not caps.fractional_quantity:
            return f"{after} is fractional: the file keeps whole quantities"
        if after < 0 and not caps.negative_quantity:
            return f"{after} is negative: a store file keeps no negative stock"
        return None
    if after < 0:
        return f"{after} is negative"
    if money.places_of(after) > caps.money_places:
        return f"{after} has more than the file's {caps.money_places} decimals"
    return None


def _now(
    layout: _Layout, records: list[Record], rows: dict[str, int], change: Change
) -> Number | None:
    """What the file holds now for a change, for the grid (None when it cannot tell)."""
    n = rows.get(change.item_id)
    if n is None:
        return None
    with contextlib.suppress(ConnectorError):
        return layout.number(records[n][1], change.field, records[n][0])
    return None


def _fsync_dir(folder: Path) -> None:
    """The rename itself survives a power cut only once the directory is synced."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _spans(record: str, delimiter: str) -> list[tuple[int, int]]:
    """Where each cell of one record lies in its text (quotes doubled inside, as csv does)."""
    end = len(record.rstrip("\r\n"))
    spans: list[tuple[int, int]] = []
    start, quoted, i = 0, False, 0
    while i < end:
        char = record[i]
        if quoted and char == '"':
            if record[i + 1 : i + 2] == '"':
                i += 1
            else:
                quoted = False
        elif not quoted and char == '"' and i == start:
            quoted = True
        elif not quoted and char == delimiter:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, end))
    return spans


def _splice(record: str, cells: list[str], index: int, delimiter: str) -> str:
    """The record with only cell `index` replaced, every other byte as it was; if that would not
    read back as `cells`, the csv module writes the record afresh (same delimiter and ending)."""
    body_end = len(record.rstrip("\r\n"))
    ending = record[body_end:]
    spans = _spans(record, delimiter)
    if index < len(spans):
        start, stop = spans[index]
        text = cells[index]
        if record[start : start + 1] == '"':  # a quoted cell stays quoted
            text = '"' + text.replace('"', '""') + '"'
        new = record[:start] + text + record[stop:]
    else:
        pad = delimiter * (index - len(spans) + 1)
        new = record[:body_end] + pad + cells[index] + ending
    if next(csv.reader(io.StringIO(new, newline=""), delimiter=delimiter), None) == cells:
        return new
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=ending or "\r\n").writerow(cells)
    return out.getvalue()


def _mapping(connection: Connection) -> dict[str, str]:
    columns = connection.settings.get("columns") or {}
    return {str(k): str(v) for k, v in dict(columns).items()}  # type: ignore[call-overload]


def _scan_file(path: Path, mapping: Mapping[str, str]) -> tuple[_Layout, _Scan]:
    with _reading(path, str(path)) as (_, records):
        _, header, _ = next(records, (1, [], ""))
        layout = _Layout.of(str(path), header, mapping)
        scan = _Scan()
        for _, cells, _ in records:
            scan.add(layout, cells)
    return layout, scan


_SCANNED: dict[tuple[object, ...], Capabilities] = {}


def capabilities_for(connection: Connection, side: Side) -> Capabilities:
    """A CSV's capabilities are its content: one local scan (never the network), remembered per
    file state. A file that cannot be read writes nothing; its read will say why."""
    path = Path(str(connection.settings["path"]))
    writable = connection.settings.get("writable") is True
    mapping = _mapping(connection)
    try:
        key = (os.path.realpath(path), *_stat_key(path), side, writable, *sorted(mapping.items()))
    except OSError:
        return _UNREADABLE
    if key not in _SCANNED:
        try:
            layout, scan = _scan_file(path, mapping)
            caps = scan.capabilities(layout, side, writable)
        except ConnectorError:
            caps = _UNREADABLE
        if len(_SCANNED) > 32:
            _SCANNED.clear()
        _SCANNED[key] = caps
    return _SCANNED[key]
