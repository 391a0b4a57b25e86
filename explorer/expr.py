"""The criteria expression language: text -> tree (a Lark grammar), tree -> text, and type checking.

Expressions come from definition files a researcher edits, so they are data, never code: the text is
parsed by a grammar into frozen dataclasses, only catalogue variables, the criterion's parameters and
the functions in FUNCTIONS are accepted, and nothing is ever passed to eval/exec. Engines
(explorer.engine) walk the tree; this module knows nothing of pandas or SQL.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from explorer.catalogue import Catalogue, default_catalogue
from explorer.errors import ExpressionError

MAX_LENGTH = 4000  # a criterion is a sentence, not a program; bounds parse time
# Depth and size are capped here, once, for every engine: the evaluators and printers recurse one
# level per node (64 levels stay far inside Python's stack, even from a deep dashboard callback),
# and SQL engines have their own expression-depth limits. Real criteria are under 10 levels deep.
MAX_DEPTH = 64
MAX_NODES = 1000

# Names the engines use for their own columns; a variable with one of these names could be confused
# with them in SQL. subject_id is every table's key; file_row_number is DuckDB's Parquet row number.
RESERVED_NAMES = frozenset({"subject_id", "file_row_number"})
RESERVED_PREFIX = "__"


def is_reserved(name: str) -> bool:
    """Whether `name` is kept for the engines (and so cannot be a variable or a data column)."""
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIX)

GRAMMAR = r"""
?start: expr
?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr                     -> not_
         | comparison
?comparison: sum (COMP_OP sum)*
           | sum _IN "(" literals ")"          -> in_
           | sum _NOT _IN "(" literals ")"     -> not_in
literals: literal ("," literal)* ","?
?literal: NUMBER                               -> number
        | MINUS NUMBER                         -> negative_number
        | STRING                               -> string
        | TRUE                                 -> true
        | FALSE                                -> false
?sum: product (ADD_OP product)*
?product: unary (MUL_OP unary)*
?unary: MINUS unary                            -> neg
      | atom
?atom: NUMBER                                  -> number
     | STRING                                  -> string
     | TRUE                                    -> true
     | FALSE                                   -> false
     | NAME "(" [arguments] ")"                -> call
     | NAME                                    -> name
     | "(" expr ")"
arguments: argument ("," argument)*
?argument: expr
         | NAME "=" expr                       -> kwarg

COMP_OP: "<=" | ">=" | "==" | "!=" | "<" | ">"
ADD_OP: "+" | MINUS
MUL_OP: "*" | "/"
MINUS: "-"
_OR: "or"
_AND: "and"
_NOT: "not"
_IN: "in"
TRUE: "true"
FALSE: "false"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
# ASCII digits only: Python's \d also matches "７" or "٧", which a reader of the rule may not see as numbers
NUMBER: /([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?/
STRING: /"[^"\\\n]*"|'[^'\\\n]*'/
%ignore /[ \t\r\n]+/
"""


# --- the tree ------------------------------------------------------------------------------------

Span = tuple[int, int]


@dataclass(frozen=True)
class Num:
    value: float
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Str:
    value: str
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Name:
    name: str
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()
    span: Span = field(default=(0, 0), compare=False, repr=False)

    def kwarg(self, name: str) -> Node | None:
        return dict(self.kwargs).get(name)


@dataclass(frozen=True)
class Neg:
    operand: Node
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Node
    right: Node
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Compare:
    """A comparison or a chain of them: `7 <= hba1c <= 10` is ops ('<=', '<='), three operands."""

    ops: tuple[str, ...]
    operands: tuple[Node, ...]
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class In:
    operand: Node
    values: tuple[Node, ...]
    negated: bool = False
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    operand: Node
    span: Span = field(default=(0, 0), compare=False, repr=False)


@dataclass(frozen=True)
class BoolOp:
    op: str  # and / or
    operands: tuple[Node, ...]
    span: Span = field(default=(0, 0), compare=False, repr=False)


Node = Num | Str | Bool | Name | Call | Neg | Arith | Compare | In | Not | BoolOp


def children(node: Node) -> tuple[Node, ...]:
    match node:
        case Call(args=args, kwargs=kwargs):
            return tuple(args) + tuple(v for _, v in kwargs)
        case Neg(operand=o) | Not(operand=o):
            return (o,)
        case Arith(left=left, right=right):
            return (left, right)
        case Compare(operands=ops) | BoolOp(operands=ops):
            return tuple(ops)
        case In(operand=o, values=values):
            return (o, *values)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative: no recursion limit)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def names(node: Node) -> set[str]:
    """Every bare name in the tree (variables and parameters; event names inside count() too)."""
    return {n.name for n in walk(node) if isinstance(n, Name)}


def chain_steps(node: Compare) -> list[Compare]:
    """The single comparisons of a chain (`7 <= hba1c <= 10`: `7 <= hba1c` and `hba1c <= 10`), whose
    conjunction it is; engines that decide comparisons on a censored value's interval decide each step."""
    return [Compare((op,), (a, b), node.span) for op, a, b in zip(node.ops, node.operands, node.operands[1:],
                                                                  strict=False)]


# a comparison reading more censored variables than this is not evaluated at its 2^k corners (64 here) by any
# engine (a hostile rule reading dozens would exhaust time, and SQL text grows as 2^k): it is decided on the point
# values and unknown wherever one of the values it reads is censored (sound, if less sharp)
MAX_CORNER_VARIABLES = 6


def is_monotone_test(node: Node, censored: Iterable[str] = ()) -> bool:
    """Whether a comparison's truth is monotone in each of the `censored` values it reads, so that the ends of
    their intervals decide it. Not so for == / != / in (x == 0.1 can hold inside [0, 0.33) though neither end
    equals 0.1), for abs() of a censored value (abs(x - 0.1) < 0.05 holds near 0.1 and at neither end), nor for
    a censored value read twice (x * (x - 1) dips below 0 between 0 and 1): engines make those unknown wherever
    a value they read is censored. Every other operator and function (+, -, * and / of the catalogue's
    non-negative quantities, min, max) is monotone in each argument."""
    if not (isinstance(node, Compare) and all(op in ("<", "<=", ">", ">=") for op in node.ops)):
        return False
    censored = set(censored)
    reads = [n.name for n in walk(node) if isinstance(n, Name) and n.name in censored]
    if len(reads) != len(set(reads)):
        return False
    return not any(isinstance(n, Call) and n.func == "abs" and names(n) & censored for n in walk(node))


def depth_and_size(node, kids=children) -> tuple[int, int]:
    """(levels, nodes) of a tree, iteratively, so a tree too deep to recurse into can still be measured."""
    deepest, size, stack = 0, 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        size += 1
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in kids(current))
    return deepest, size


def _too_deep(levels: str, text: str) -> ExpressionError:
    return ExpressionError(f"the expression is nested {levels} levels deep; the limit is {MAX_DEPTH}: "
                           f"split the criterion or remove redundant negations", expression=text[:80])


def check_size(node, text: str = "", kids=children) -> None:
    """Raise ExpressionError when a tree is deeper or larger than every engine can evaluate."""
    depth, size = depth_and_size(node, kids)
    if depth > MAX_DEPTH:
        raise _too_deep(str(depth), text)
    if size > MAX_NODES:
        raise ExpressionError(f"the expression has {size} parts; the limit is {MAX_NODES}: split the criterion",
                              expression=text[:80])


# --- parsing -------------------------------------------------------------------------------------

@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _span(meta_or_token) -> Span:
    if isinstance(meta_or_token, Token):
        return (meta_or_token.start_pos or 0, meta_or_token.end_pos or 0)
    meta = meta_or_token
    return (getattr(meta, "start_pos", 0) or 0, getattr(meta, "end_pos", 0) or 0)


def _number(token: Token) -> float:
    value = float(token)
    if value != value or value in (float("inf"), float("-inf")):
        raise ExpressionError(f"number {str(token)!r} is too large", expression="", position=token.start_pos)
    return value


@v_args(meta=True)
class _ToTree(Transformer):
    def number(self, meta, items):
        return Num(_number(items[0]), _span(items[0]))

    def negative_number(self, meta, items):
        return Num(-_number(items[1]), _span(meta))

    def string(self, meta, items):
        return Str(str(items[0])[1:-1], _span(items[0]))

    def true(self, meta, items):
        return Bool(True, _span(items[0]))

    def false(self, meta, items):
        return Bool(False, _span(items[0]))

    def name(self, meta, items):
        return Name(str(items[0]), _span(items[0]))

    def neg(self, meta, items):
        operand = items[1]
        # "-5" is the number -5, so printing a negative number and parsing it gives the same tree
        if isinstance(operand, Num):
            return Num(-operand.value, _span(meta))
        return Neg(operand, _span(meta))

    def _left_assoc(self, meta, items):
        node = items[0]
        for op, right in zip(items[1::2], items[2::2], strict=True):
            node = Arith(str(op), node, right, (node.span[0], right.span[1]))
        return node

    sum = _left_assoc
    product = _left_assoc

    def comparison(self, meta, items):
        return Compare(tuple(str(op) for op in items[1::2]), tuple(items[0::2]), _span(meta))

    def literals(self, meta, items):
        return tuple(items)

    def in_(self, meta, items):
        return In(items[0], items[1], False, _span(meta))

    def not_in(self, meta, items):
        return In(items[0], items[1], True, _span(meta))

    def not_(self, meta, items):
        return Not(items[0], _span(meta))

    def and_expr(self, meta, items):
        return BoolOp("and", tuple(items), _span(meta))

    def or_expr(self, meta, items):
        return BoolOp("or", tuple(items), _span(meta))

    def kwarg(self, meta, items):
        return ("kwarg", str(items[0]), items[1])

    def arguments(self, meta, items):
        return list(items)

    def call(self, meta, items):
        func, arguments = str(items[0]), items[1] or []
        args, kwargs = [], []
        for arg in arguments:
            if isinstance(arg, tuple) and arg and arg[0] == "kwarg":
                if any(k == arg[1] for k, _ in kwargs):
                    raise ExpressionError(f"argument {arg[1]!r} given twice to {func}()",
                                          position=meta.start_pos)
                kwargs.append((arg[1], arg[2]))
            elif kwargs:
                raise ExpressionError(f"in {func}(), a positional argument follows a named one",
                                      position=_node_start(arg))
            else:
                args.append(arg)
        return Call(func, tuple(args), tuple(kwargs), _span(meta))


def _node_start(node) -> int | None:
    return getattr(node, "span", (None,))[0]


_TOKEN_WORDS = {
    "COMP_OP": "a comparison (< <= > >= == !=)", "ADD_OP": "+ or -", "MUL_OP": "* or /", "MINUS": "-",
    "_OR": "'or'", "_AND": "'and'", "_NOT": "'not'", "_IN": "'in'", "NAME": "a name", "NUMBER": "a number",
    "STRING": "a quoted text", "TRUE": "'true'", "FALSE": "'false'", "LPAR": "'('", "RPAR": "')'",
    "COMMA": "','", "EQUAL": "'='", "$END": "the end",
}


def _syntax_message(err: UnexpectedInput, text: str) -> tuple[str, int]:
    if isinstance(err, UnexpectedCharacters):
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        hint = ""
        if char in "[]{}":
            hint = "; lists, sets and comprehensions are not part of the language"
        elif char == ".":
            hint = "; attribute access is not part of the language"
        elif char == ":":
            hint = "; lambdas and slices are not part of the language"
        elif char in "&|":
            hint = "; write 'and' / 'or'"
        elif char == "=":
            hint = "; use '==' to compare"
        elif char == "!":
            hint = "; write 'not' or '!='"
        elif not char.isascii():  # a lookalike pasted from a document: "а" (Cyrillic), "＞", "７", a no-break space
            plain = unicodedata.normalize("NFKC", char)
            hint = (f" ({unicodedata.name(char, f'U+{ord(char):04X}')}, not an ASCII character); "
                    + (f"write {plain!r}" if plain.isascii() and plain else "retype it"))
        return f"unexpected character {char!r}{hint}", err.pos_in_stream
    if isinstance(err, UnexpectedEOF):
        return "the expression ends too early", len(text)
    if isinstance(err, UnexpectedToken):
        expected = sorted(_TOKEN_WORDS.get(t, t) for t in (err.expected or ()))
        at_end = err.token.type == "$END"
        pos = len(text) if at_end else (err.token.start_pos or 0)
        msg = "the expression ends too early" if at_end else f"unexpected {str(err.token)!r}"
        if expected:
            msg += f"; expected {', '.join(expected[:6])}{' ...' if len(expected) > 6 else ''}"
        return msg, pos
    return str(err), getattr(err, "pos_in_stream", 0) or 0


def parse(text: str) -> Node:
    """Parse an expression into a tree. Raises ExpressionError (with the position) on bad syntax."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty", expression=text, position=0)
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long, longer than {MAX_LENGTH}; "
                              f"split the criterion")
    try:
        tree = _parser().parse(text)
        # Lark's tree is at most two levels per node of ours (a call wraps its arguments): refused
        # before the recursive transform walks it, then measured exactly on our tree
        lark_depth, _ = depth_and_size(tree, lambda t: [c for c in getattr(t, "children", ()) if c is not None])
        if lark_depth > 2 * MAX_DEPTH + 4:
            raise _too_deep(f"more than {MAX_DEPTH}", text)
        node = _ToTree().transform(tree)
        check_size(node, text)
        return node
    except UnexpectedInput as err:
        message, position = _syntax_message(err, text)
        raise ExpressionError(message, expression=text, position=position) from None
    except VisitError as err:
        inner = err.orig_exc
        if isinstance(inner, ExpressionError):
            raise ExpressionError(inner.reason, expression=text, position=inner.position) from None
        raise
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply", expression=text[:80], position=0) from None


# --- printing ------------------------------------------------------------------------------------

_PREC_OR, _PREC_AND, _PREC_NOT, _PREC_CMP, _PREC_SUM, _PREC_PROD, _PREC_NEG, _PREC_ATOM = range(1, 9)


def _precedence(node: Node) -> int:
    match node:
        case BoolOp(op="or"):
            return _PREC_OR
        case BoolOp(op="and"):
            return _PREC_AND
        case Not():
            return _PREC_NOT
        case Compare() | In():
            return _PREC_CMP
        case Arith(op="+" | "-"):
            return _PREC_SUM
        case Arith():
            return _PREC_PROD
        case Neg():
            return _PREC_NEG
        case Num(value=v) if v < 0 or (v == 0 and str(v).startswith("-")):
            return _PREC_NEG
    return _PREC_ATOM


def format_number(value: float) -> str:
    """Shortest text that parses back to the same float ('7', '7.5', '1e-05')."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _quote(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ExpressionError(f"text {value!r} contains both quote characters and cannot be written")


def to_text(node: Node) -> str:
    """Canonical text of a tree; parse(to_text(t)) == t for every tree parse() gives."""
    try:
        return _to_text(node)
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply to print") from None


def _wrapped(node: Node, minimum: int) -> str:
    text = _to_text(node)
    return f"({text})" if _precedence(node) < minimum else text


def _to_text(node: Node) -> str:
    match node:
        case Num(value=v):
            return format_number(v)
        case Str(value=v):
            return _quote(v)
        case Bool(value=v):
            return "true" if v else "false"
        case Name(name=n):
            return n
        case Call(func=f, args=args, kwargs=kwargs):
            parts = [_to_text(a) for a in args] + [f"{k}={_to_text(v)}" for k, v in kwargs]
            return f"{f}({', '.join(parts)})"
        case Neg(operand=o):
            return f"-{_wrapped(o, _PREC_NEG)}"
        case Arith(op=op, left=left, right=right):
            prec = _precedence(node)
            return f"{_wrapped(left, prec)} {op} {_wrapped(right, prec + 1)}"
        case Compare(ops=ops, operands=operands):
            text = _wrapped(operands[0], _PREC_SUM)
            for op, operand in zip(ops, operands[1:], strict=True):
                text += f" {op} {_wrapped(operand, _PREC_SUM)}"
            return text
        case In(operand=o, values=values, negated=negated):
            keyword = "not in" if negated else "in"
            return f"{_wrapped(o, _PREC_SUM)} {keyword} ({', '.join(_to_text(v) for v in values)})"
        case Not(operand=o):
            return f"not {_wrapped(o, _PREC_NOT)}"
        case BoolOp(op=op, operands=operands):
            prec = _precedence(node)
            return f" {op} ".join(_wrapped(o, prec + 1) for o in operands)
    raise TypeError(f"not an expression node: {node!r}")


# --- type checking -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Type:
    """The static type of a node: number (with unit), boolean, category (of a variable), event, text."""

    kind: str
    unit: str | None = None           # for numbers; None = dimensionless literal, "?" = mixed
    categories: tuple[str, ...] = ()  # for categories
    label: str = ""                   # how to name it in messages

    def describe(self) -> str:
        """What the value is, for messages: 'a number in %', 'a category', 'an event', ..."""
        if self.kind == "number":
            if self.unit == "1":
                return "a number without a unit"
            return "a number" if self.unit in (None, "?") else f"a number in {self.unit}"
        return {"boolean": "a true/false value", "category": "a category", "event": "an event",
                "text": "a text"}.get(self.kind, self.kind)


@dataclass(frozen=True)
class Function:
    """A function of the language, declared once: the type checker reads this declaration, and each
    engine (explorer.engine.memory, explorer.engine.sql) implements every name in FUNCTIONS from it."""

    name: str
    args: tuple[str, ...]        # kinds of the positional arguments: "number", "value" (not an event), "event",
    #                              "count" (a whole number written as such), "boolean" (a condition)
    result: str                  # "number" or "boolean"
    help: str
    variadic: bool = False       # the last argument may repeat
    named: tuple[str, ...] = ()  # required named arguments (each a number of days or a parameter)
    strict: bool = True          # unknown when any argument is unknown (else: never unknown)
    same_unit: bool = False      # number arguments share one unit, which the result keeps

    def usage(self) -> str:
        return self.help.split(":", 1)[0]


FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("count", ("event",), "number", "count(event, within_days=N): events of that type in the N days up "
             "to the index date (unknown if the history is shorter than N days)", named=("within_days",)),
    Function("known", ("value",), "boolean", "known(x): true when x is known for the subject (never unknown)",
             strict=False),
    Function("abs", ("number",), "number", "abs(x): absolute value", same_unit=True),
    Function("min", ("number", "number"), "number", "min(a, b, ...): the smallest value", variadic=True,
             same_unit=True),
    Function("max", ("number", "number"), "number", "max(a, b, ...): the largest value", variadic=True,
             same_unit=True),
    # "at least two of the following": true once n conditions are true, false once more than k - n are false
    # (n can no longer be reached), unknown in between; so an unknown never decides, as with "and" / "or"
    Function("at_least", ("count", "boolean", "boolean"), "boolean",
             "at_least(n, a, b, ...): true when at least n of the conditions are true, false when more than "
             "(conditions - n) are false, else unknown", variadic=True, strict=False),
)}


def at_least_count(call: Call) -> int:
    """The n of a (checked) at_least(n, ...) call."""
    return int(call.args[0].value)


def count_window(call: Call, params: Mapping[str, float]) -> float:
    """The look-back window of a (checked) count() call in days: a number, or a parameter's value."""
    window = call.kwarg("within_days")
    return float(params[window.name] if isinstance(window, Name) else window.value)


def count_column(event: str, days: float) -> str:
    """The event_counts column a source reports count(event, within_days=days) in: "event@365", "event@90.5"."""
    return f"{event}@{int(days) if days == int(days) else days}"


ORDERING_OPS = ("<", "<=", ">", ">=")


DIMENSIONLESS = "1"  # the unit of a parameter declared without one (a multiple, a ratio)


def _units_compatible(a: str | None, b: str | None) -> bool:
    """None: a bare number, which takes any unit; "?": a product of units we do not track."""
    return a is None or b is None or a == "?" or b == "?" or a == b


class _Checker:
    def __init__(self, text: str, catalogue: Catalogue, parameters: Mapping[str, str | None]):
        self.text, self.catalogue, self.parameters = text, catalogue, parameters

    def fail(self, node: Node, message: str):
        raise ExpressionError(message, expression=self.text, position=node.span[0] if self.text else None)

    def unknown_name(self, node: Name):
        known = list(self.parameters) + self.catalogue.names()
        close = difflib.get_close_matches(node.name, known, n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else (
            "; use a catalogue variable (trial-explorer variables) or declare a parameter")
        self.fail(node, f"unknown name {node.name!r}{hint}")

    def reserved(self, node: Name):
        self.fail(node, f"{node.name!r} is a name the engines keep for themselves (subject_id, file_row_number "
                        f"and names starting with {RESERVED_PREFIX!r}); rename the variable")

    def type_of(self, node: Node) -> Type:
        match node:
            case Num():
                return Type("number")
            case Str(value=v):
                return Type("text", label=repr(v))
            case Bool():
                return Type("boolean")
            case Name(name=n):
                if n in self.parameters:
                    return Type("number", unit=self.parameters[n] or DIMENSIONLESS, label=f"parameter {n}")
                if is_reserved(n):
                    self.reserved(node)
                var = self.catalogue.get(n)
                if var is None:
                    self.unknown_name(node)
                if var.kind == "number":
                    return Type("number", unit=var.unit, label=n)
                if var.kind == "category":
                    return Type("category", categories=var.categories, label=n)
                return Type(var.kind, label=n)
            case Neg(operand=o):
                t = self.expect_number(o, "'-'")
                return Type("number", unit=t.unit)
            case Arith(op=op, left=left, right=right):
                lt, rt = self.expect_number(left, f"'{op}'"), self.expect_number(right, f"'{op}'")
                if op in "+-":
                    if not _units_compatible(lt.unit, rt.unit):
                        self.fail(node, f"cannot {'add' if op == '+' else 'subtract'} {rt.describe()} "
                                        f"and {lt.describe()}: units differ")
                    return Type("number", unit=lt.unit if lt.unit is not None else rt.unit)
                if op == "*":
                    if lt.unit in (None, DIMENSIONLESS) or rt.unit in (None, DIMENSIONLESS):
                        other = rt.unit if lt.unit in (None, DIMENSIONLESS) else lt.unit
                        return Type("number", unit=other if other is not None else lt.unit)
                    return Type("number", unit="?")
                if lt.unit is not None and lt.unit == rt.unit:
                    return Type("number", unit=DIMENSIONLESS)
                return Type("number", unit=lt.unit if rt.unit in (None, DIMENSIONLESS) else "?")
            case Compare(ops=ops, operands=operands):
                types = [self.type_of(o) for o in operands]
                for i, op in enumerate(ops):  # a chain compares each neighbouring pair
                    self.check_comparison(node, op, operands[i], types[i], operands[i + 1], types[i + 1])
                return Type("boolean")
            case In(operand=o, values=values):
                t = self.type_of(o)
                for v in values:
                    tv = self.type_of(v)
                    self.check_comparison(node, "==", o, t, v, tv)
                return Type("boolean")
            case Not(operand=o):
                self.expect_boolean(o, "'not'")
                return Type("boolean")
            case BoolOp(op=op, operands=operands):
                for o in operands:
                    self.expect_boolean(o, f"'{op}'")
                return Type("boolean")
            case Call():
                return self.check_call(node)
        raise TypeError(f"not an expression node: {node!r}")

    def expect_number(self, node: Node, where: str) -> Type:
        t = self.type_of(node)
        if t.kind != "number":
            self.fail(node, f"{where} needs a number, but {_to_text(node)} is {t.describe()}")
        return t

    def expect_boolean(self, node: Node, where: str) -> Type:
        t = self.type_of(node)
        if t.kind != "boolean":
            self.fail(node, f"{where} needs a true/false condition, but {_to_text(node)} is {t.describe()}"
                            + ("; compare it with a value, e.g. hba1c >= 7" if t.kind == "number" else ""))
        return t

    def check_comparison(self, node, op, a, ta: Type, b, tb: Type):
        kinds = {ta.kind, tb.kind}
        if "event" in kinds:
            event = a if ta.kind == "event" else b
            self.fail(event, f"cannot compare an event directly; count it, e.g. "
                             f"count({_to_text(event)}, within_days=365) >= 1")
        if kinds == {"number"}:
            if not _units_compatible(ta.unit, tb.unit):
                hint = ("declare the parameter's unit as the variable's" if DIMENSIONLESS in (ta.unit, tb.unit)
                        else "give the parameter the variable's unit")
                self.fail(node, f"cannot compare {_to_text(a)} ({ta.describe()}) with {_to_text(b)} "
                                f"({tb.describe()}): units differ; {hint}")
            self.check_plausible(a, b)
            self.check_plausible(b, a)
            return
        if op in ORDERING_OPS:
            self.fail(node, f"'{op}' orders numbers, but {_to_text(a)} is {ta.describe()} and "
                            f"{_to_text(b)} is {tb.describe()}")
        if kinds == {"boolean"}:
            return
        if kinds == {"category"}:
            if ta.categories != tb.categories:
                self.fail(node, f"{_to_text(a)} and {_to_text(b)} have different categories")
            return
        if kinds == {"category", "text"}:
            cat, text = (ta, b) if ta.kind == "category" else (tb, a)
            if text.value not in cat.categories:
                self.fail(text, f"{text.value!r} is not a category of {cat.label}; "
                                f"use one of {', '.join(repr(c) for c in cat.categories)}")
            return
        self.fail(node, f"cannot compare {_to_text(a)} ({ta.describe()}) with {_to_text(b)} ({tb.describe()})")

    def check_plausible(self, variable: Node, literal: Node) -> None:
        """A bare number compared with a variable must lie in its plausible range: `hba1c > 58` is
        almost surely mmol/mol written where the catalogue's unit is %."""
        if not (isinstance(variable, Name) and isinstance(literal, Num)) or variable.name in self.parameters:
            return
        var = self.catalogue.get(variable.name)
        if var is None or var.range is None:
            return
        low, high = var.range
        if not low <= literal.value <= high:
            self.fail(literal, f"{format_number(literal.value)} is outside the plausible range of {variable.name} "
                               f"({low:g}-{high:g} {var.unit or ''}); is it in another unit? Write it in "
                               f"{var.unit or 'the catalogue unit'}")

    def check_call(self, node: Call) -> Type:
        """Checks a call against its declaration in FUNCTIONS."""
        func = FUNCTIONS.get(node.func)
        if func is None:
            close = difflib.get_close_matches(node.func, FUNCTIONS, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            self.fail(node, f"unknown function {node.func!r}{hint}. Known functions: {', '.join(FUNCTIONS)}")
        n, need = len(node.args), len(func.args)
        if n < need or (n > need and not func.variadic):
            if func.variadic:
                wanted = f"{'two' if need == 2 else need} or more {func.args[-1]}s"
            else:
                wanted = "exactly one argument" if need == 1 else f"{need} arguments"
            example = ", e.g. count(severe_hypoglycemia, within_days=365)" if "event" in func.args else ""
            self.fail(node, f"{func.name}() takes {wanted}{example}: {func.usage()}")
        given = [k for k, _ in node.kwargs]
        extra = sorted(set(given) - set(func.named))
        if extra:
            takes = f"it takes {', '.join(f'{k}=N' for k in func.named)}" if func.named else "it takes none"
            self.fail(node, f"{func.name}() has no argument {extra[0]!r}; {takes}")
        for name in func.named:
            self.check_days(node, name)
        kinds = func.args + func.args[-1:] * (n - need)
        types = [self.check_argument(func, arg, kind) for arg, kind in zip(node.args, kinds, strict=True)]
        if "count" in func.args and not 1 <= node.args[0].value <= n - 1:
            self.fail(node.args[0], f"{func.name}({_to_text(node.args[0])}, ...) of {n - 1} conditions: the number "
                                    f"must be from 1 to {n - 1}")
        if func.result == "boolean":
            return Type("boolean")
        if not func.same_unit:
            return Type("number", unit=None)  # a count: compared with bare numbers or "events" thresholds
        defined = {t.unit for t in types if t.unit is not None}
        if len(defined - {"?"}) > 1:
            self.fail(node, f"{func.name}() of values in different units {sorted(defined)}")
        # a tracked unit wins over "?" (a product of units), which wins over a bare number
        return Type("number", unit=next(iter(sorted(defined - {"?"}) or sorted(defined)), None))

    def check_argument(self, func: Function, arg: Node, kind: str) -> Type:
        if kind == "count":
            return self.check_count(func, arg)
        if kind == "boolean":
            return self.expect_boolean(arg, f"{func.name}()")
        if kind == "number":
            return self.expect_number(arg, f"{func.name}()")
        if kind == "event":
            if not isinstance(arg, Name):
                self.fail(arg, f"{func.name}() takes an event name, e.g. count(severe_hypoglycemia, within_days=365)")
            if is_reserved(arg.name):
                self.reserved(arg)
            var = self.catalogue.get(arg.name)
            if var is None:
                self.unknown_name(arg)
            if var.kind != "event":
                self.fail(arg, f"{func.name}() counts events, but {arg.name} is a {var.kind} variable; "
                               f"events are: {', '.join(self.catalogue.names('event'))}")
            return Type("event", label=arg.name)
        t = self.type_of(arg)
        if t.kind == "event":
            self.fail(arg, f"{func.name}() of an event: use count(event, within_days=N) instead")
        return t

    def check_count(self, func: Function, arg: Node) -> Type:
        """at_least's n: a whole number written in the rule (engines compile it as a constant), 1 to the number of
        conditions it is applied to."""
        if not (isinstance(arg, Num) and float(arg.value).is_integer()):
            self.fail(arg, f"{func.name}() takes a whole number first, e.g. at_least(2, a, b, c)")
        return Type("number", unit=None)

    def check_days(self, node: Call, name: str) -> None:
        window = node.kwarg(name)
        if window is None:
            self.fail(node, f"{node.func}() needs {name}=N (the look-back window in days)")
        if isinstance(window, Num):
            if window.value <= 0:
                self.fail(window, f"{name} must be a positive number of days")
        elif not (isinstance(window, Name) and window.name in self.parameters):
            self.fail(window, f"{name} must be a number of days or a parameter")


def check(node: Node, *, text: str = "", catalogue: Catalogue | None = None,
          parameters: Mapping[str, str | None] | None = None, want_boolean: bool = True) -> Type:
    """Type-check a tree against the catalogue and the criterion's parameters ({name: unit}).

    Raises ExpressionError naming the position (in `text`) and what to do. With want_boolean, the
    expression must be a true/false condition, as a criterion is.
    """
    check_size(node, text)  # trees built in code (the importer, tests) meet the parser's limits too
    checker = _Checker(text, catalogue or default_catalogue(), parameters or {})
    try:
        result = checker.type_of(node)
        if want_boolean and result.kind != "boolean":
            checker.fail(node, f"a criterion must be a true/false condition, but this is {result.describe()}")
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply", expression=text[:80]) from None
    return result


def compile_expression(text: str, *, catalogue: Catalogue | None = None,
                       parameters: Mapping[str, str | None] | None = None) -> Node:
    """Parse and type-check a criterion expression in one step."""
    tree = parse(text)
    check(tree, text=text, catalogue=catalogue, parameters=parameters)
    return tree
