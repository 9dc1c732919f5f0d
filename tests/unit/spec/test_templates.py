from __future__ import annotations

import pytest

from cao.graph.templates import (TemplateError, analyze_expression, analyze_template,
                                 evaluate_condition, evaluate_expression, evaluate_for_each,
                                 render_template, template_references)


def test_references_from_ast():
    src = ("{{ nodes.a.output }} {{ nodes['b-c'].outputs | join(', ') }}"
           "{% for x in nodes.d.outputs %}{{ x }}{% endfor %}{{ inputs.topic }}")
    assert template_references(src) == {"a", "b-c", "d"}
    assert analyze_template(src).inputs == {"topic"}


def test_dynamic_or_shadowed_names_are_not_references():
    assert template_references("{{ nodes[name].output }}") == set()
    assert template_references("plain text, no markup") == set()


def test_syntax_error_has_line():
    info = analyze_template("one\ntwo {{ a b }}\nthree")
    assert info.error and info.error_line == 2


def test_render_is_strict():
    assert render_template("Hi {{ inputs.n }}", {"inputs": {"n": 3}}) == "Hi 3"
    with pytest.raises(TemplateError, match="has no attribute 'missing'"):
        render_template("{{ nodes.missing.output }}", {"nodes": {}})


def test_expressions_and_conditions():
    v = {"inputs": {"mode": "full", "n": 3, "d": {"b": 2, "a": 1}}}
    assert evaluate_expression("inputs.n * 2", v) == 6
    assert evaluate_expression("{{ inputs.n + 1 }}", v) == 4
    assert evaluate_condition("inputs.mode == 'full'", v) is True
    assert evaluate_condition("{{ inputs.mode }}-x", v) is True
    assert evaluate_condition("{{ 'false' }}", v) is False
    assert evaluate_condition(False, v) is False and evaluate_condition(None, v) is True
    assert evaluate_for_each("{{ inputs.d | dictsort }}", v) == [("a", 1), ("b", 2)]
    assert evaluate_for_each("inputs.d", v) == [("a", 1), ("b", 2)]
    assert evaluate_for_each([1, 2], v) == [1, 2]
    with pytest.raises(TemplateError, match="must evaluate to a list"):
        evaluate_for_each("inputs.n", v)


def test_expression_analysis():
    info = analyze_expression("inputs.mode == 'full' and nodes.a.output")
    assert info.inputs == {"mode"} and info.nodes == {"a"}
    assert analyze_expression("inputs.mode ==").error


def test_sandbox_blocks_unsafe_attributes():
    with pytest.raises(TemplateError):
        render_template("{{ ''.__class__.__mro__ }}", {})
