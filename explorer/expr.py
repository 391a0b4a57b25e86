"""The criteria expression language: text -> tree (a Lark grammar), tree -> text, and type checking.

Expressions come from definition files a researcher edits, so they are data, never code: the text is
parsed by a grammar into frozen dataclasses, only catalogue variables, the criterion's parameters and
the functions in FUNCTIONS are accepted, and nothing is ever passed to eval/exec. Engines
(explorer.engine) walk the tree; this module knows nothing of pandas or SQL.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from explorer.catalogue import Catalogue, default_catalogue
from explorer.errors import ExpressionError

MAX_LENGTH = 4000  # a criterion is a sentence, not a program; bounds parse time and nesting

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
NUMBER: /(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
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
        raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters; split the criterion",
                              expression=text[:80] + "...", position=MAX_LENGTH)
    try:
        tree = _parser().parse(text)
        return _ToTree().transform(tree)
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


FUNCTIONS: dict[str, str] = {
    "count": "count(event, within_days=N): events of that type in the N days up to the index date",
    "known": "known(x): true when x is known for the subject (never unknown)",
    "abs": "abs(x): absolute value",
    "min": "min(a, b, ...): the smallest value",
    "max": "max(a, b, ...): the largest value",
}

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
        func = node.func
        if func not in FUNCTIONS:
            close = difflib.get_close_matches(func, FUNCTIONS, n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            self.fail(node, f"unknown function {func!r}{hint}. Known functions: {', '.join(FUNCTIONS)}")
        if func == "count":
            if len(node.args) != 1 or not isinstance(node.args[0], Name):
                self.fail(node, "count() takes one event name, e.g. count(severe_hypoglycemia, within_days=365)")
            event = node.args[0]
            var = self.catalogue.get(event.name)
            if var is None:
                self.unknown_name(event)
            if var.kind != "event":
                self.fail(event, f"count() counts events, but {event.name} is a {var.kind} variable; "
                                 f"events are: {', '.join(self.catalogue.names('event'))}")
            extra = {k for k, _ in node.kwargs} - {"within_days"}
            if extra:
                self.fail(node, f"count() has no argument {sorted(extra)[0]!r}; it takes within_days=N")
            window = node.kwarg("within_days")
            if window is None:
                self.fail(node, "count() needs within_days=N (the look-back window in days)")
            if isinstance(window, Num):
                if window.value <= 0:
                    self.fail(window, "within_days must be a positive number of days")
            elif isinstance(window, Name) and window.name in self.parameters:
                pass
            else:
                self.fail(window, "within_days must be a number of days or a parameter")
            return Type("number", unit=None)  # a count: compared with bare numbers or "events" thresholds
        if node.kwargs:
            self.fail(node, f"{func}() takes no named arguments")
        if func == "known":
            if len(node.args) != 1:
                self.fail(node, "known() takes exactly one argument")
            t = self.type_of(node.args[0])
            if t.kind == "event":
                self.fail(node, "known() of an event: use count(event, within_days=N) instead")
            return Type("boolean")
        if func == "abs":
            if len(node.args) != 1:
                self.fail(node, "abs() takes exactly one argument")
            return Type("number", unit=self.expect_number(node.args[0], "abs()").unit)
        if len(node.args) < 2:
            self.fail(node, f"{func}() takes two or more numbers")
        units = [self.expect_number(a, f"{func}()").unit for a in node.args]
        defined = {u for u in units if u is not None}
        if len(defined - {"?"}) > 1:
            self.fail(node, f"{func}() of values in different units {sorted(defined)}")
        return Type("number", unit=next(iter(defined), None))


def check(node: Node, *, text: str = "", catalogue: Catalogue | None = None,
          parameters: Mapping[str, str | None] | None = None, want_boolean: bool = True) -> Type:
    """Type-check a tree against the catalogue and the criterion's parameters ({name: unit}).

    Raises ExpressionError naming the position (in `text`) and what to do. With want_boolean, the
    expression must be a true/false condition, as a criterion is.
    """
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
