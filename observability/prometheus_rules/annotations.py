"""A detector template ({service}, {value:.2f}, ...) as a Prometheus alert template.

What is known only when the alert fires becomes a template action: {service} and
{labels[x]} the series' labels, {value} the alert's value, {baseline} a query of the
baseline it was judged against. The rule's own numbers ({threshold}, {window_s}, {for_s},
{k}, {n}) are written in when the file is generated, as Prometheus uses them and with the
template's own format spec, so the alert says what the detector would say with them.
"""

import math
import re
import string

from observability.detector import rules
from observability.exposition import metric_name
from observability.prometheus_rules.promql import Stretch, baseline, label_name

# The format specs with a Go printf equivalent: sign, zero padding, width, precision, type.
_SPEC = re.compile(
    r"(?P<sign>[+ ]?)(?P<zero>0?)(?P<width>\d*)(?:\.(?P<precision>\d+))?(?P<type>[eEfFgG%]?)"
)
_LABEL = re.compile(r"labels\[([^\]]+)\]")
# The alert's series as a selector (every label but the name), for {baseline}'s query.
_SERIES = (
    '{{ $series := "" }}{{ range $k, $v := $labels }}{{ if ne $k "__name__" }}'
    '{{ $series = printf "%s%s=%q," $series $k $v }}{{ end }}{{ end }}'
)


def constants(rule: rules.Rule, stretch: Stretch) -> dict[str, float]:
    """The numbers the detector puts in a finding's context, as the PromQL alert uses them
    (NaN where the rule's kind has none, as the detector renders them)."""
    numbers = dict.fromkeys(("threshold", "window_s", "k", "n"), math.nan)
    numbers["for_s"] = stretch.seconds(rule.for_s)
    if not isinstance(rule, rules.BaselineRule):
        numbers["threshold"] = rule.value
    if isinstance(rule, rules.RatioRule | rules.QuantileRule | rules.IncreaseRule):
        numbers["window_s"] = stretch.window(rule)
    if isinstance(rule, rules.KOfNRule):
        numbers.update(k=float(rule.k), n=float(rule.n))
    return numbers


def go_template(text: str, rule: rules.Rule, stretch: Stretch) -> str:
    """`text`, a detector template, as a Prometheus template; ValueError names the rule
    when a field or format spec has no equivalent."""
    numbers = constants(rule, stretch)
    out: list[str] = []
    for literal, field, spec, conversion in string.Formatter().parse(text):
        out.append(literal.replace("{", '{{ "{" }}'))
        if field is None:
            continue
        if conversion:
            raise ValueError(f"rule {rule.name}: {{{field}!{conversion}}} has no template twin")
        out.append(_field(field, spec or "", rule, stretch, numbers))
    body = "".join(out)
    return _SERIES + body if "$series" in body else body


def _field(
    field: str, spec: str, rule: rules.Rule, stretch: Stretch, numbers: dict[str, float]
) -> str:
    label = _LABEL.fullmatch(field)
    if field == "service" or label:
        if spec:
            raise ValueError(f"rule {rule.name}: {{{field}:{spec}}}: labels take no spec")
        return f"{{{{ $labels.{label_name(label[1], rule) if label else 'service'} }}}}"
    if field == "value":
        return _number("$value", spec, rule)
    if field == "baseline" and isinstance(rule, rules.BaselineRule):
        query = baseline(rule, stretch, series=metric_name(rule.metric) + "{%s}")
        number = _number("(. | first | value)", spec, rule)
        return f'{{{{ with printf "{query}" $series | query }}}}{number}{{{{ end }}}}'
    if field in numbers or field == "baseline":
        return format(numbers.get(field, math.nan), spec).replace("{", '{{ "{" }}')
    raise ValueError(f"rule {rule.name}: template field {{{field}}} has no template twin")


def _number(pipeline: str, spec: str, rule: rules.Rule) -> str:
    """A number printed as Python's format(value, spec) prints it."""
    if not spec:
        return f"{{{{ {pipeline} }}}}"
    found = _SPEC.fullmatch(spec)
    if found is None or not found["type"]:
        raise ValueError(f"rule {rule.name}: format spec {spec!r} has no template twin")
    sign, zero, width, precision, kind = found.group("sign", "zero", "width", "precision", "type")
    precision = "6" if precision is None else precision
    if kind == "%":
        # Templates cannot multiply: PromQL does, so 0.23 prints 23%, as Python does.
        width = str(max(int(width) - 1, 0)) if width else ""  # Python's width counts the %
        go = f"%{sign}{zero}{width}.{precision}f%%"
        scaled = f'printf "%v * 100" {pipeline} | query'
        return f'{{{{ with {scaled} }}}}{{{{ . | first | value | printf "{go}" }}}}{{{{ end }}}}'
    return f'{{{{ printf "%{sign}{zero}{width}.{precision}{kind}" {pipeline} }}}}'
