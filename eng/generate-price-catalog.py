#!/usr/bin/env python3
"""Generates src/CostAware/Pricing/builtin-prices.json, the catalog that ships inside the CostAware package.

Figures are list prices from LiteLLM's community table (../shared/data/prices/litellm_model_prices.json,
July 2026), converted from USD per token to USD per million tokens, exactly (decimal arithmetic).
Where the table has no batch price, the documented rule applies: OpenAI, Anthropic and Google Gemini bill their
batch APIs at 50 % of the synchronous price, for every token class; other providers get no batch price.
Run: python3 eng/generate-price-catalog.py [path-to-litellm-json]
"""
import json, re, sys
from decimal import Decimal, ROUND_HALF_EVEN
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/prices/litellm_model_prices.json"
OUT = ROOT / "src/CostAware/Pricing/builtin-prices.json"
EFFECTIVE = "2026-07-01"
HALF_PRICE_BATCH = {"openai", "anthropic", "gemini"}

# (catalog id, provider, LiteLLM key)
MODELS = [
    *[(m, "openai", m) for m in [
        "gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.2", "gpt-5.1", "gpt-5", "gpt-5-mini", "gpt-5-nano",
        "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o4-mini", "o3", "o3-mini", "o1",
        "gpt-4-turbo", "gpt-4-1106-preview", "gpt-3.5-turbo",
        "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"]],
    *[(m, "anthropic", m) for m in [
        "claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6", "claude-opus-4-5", "claude-opus-4-1", "claude-sonnet-5",
        "claude-sonnet-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"]],
    ("claude-sonnet-4", "anthropic", "claude-sonnet-4-20250514"),
    ("claude-opus-4", "anthropic", "claude-opus-4-20250514"),
    ("claude-3-7-sonnet", "anthropic", "claude-3-7-sonnet-20250219"),
    ("claude-3-haiku", "anthropic", "claude-3-haiku-20240307"),
    *[(m, "gemini", "gemini/" + m) for m in [
        "gemini-3.5-flash", "gemini-3.1-pro-preview", "gemini-3.1-flash-lite", "gemini-3-pro-preview", "gemini-3-flash-preview",
        "gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.0-flash"]],
    *[(m, "mistral", "mistral/" + m) for m in [
        "mistral-large-latest", "mistral-medium-latest", "mistral-small-latest", "magistral-medium-latest",
        "codestral-latest", "devstral-medium-latest", "ministral-8b-latest", "open-mixtral-8x7b", "open-mixtral-8x22b"]],
    ("deepseek-chat", "deepseek", "deepseek-chat"),
    ("deepseek-reasoner", "deepseek", "deepseek-reasoner"),
    ("deepseek-v4-pro", "deepseek", "deepseek-v4-pro"),
    ("deepseek-v4-flash", "deepseek", "deepseek-v4-flash"),
    *[(m, "xai", "xai/" + m) for m in [
        "grok-4.5", "grok-4.3", "grok-4", "grok-4-1-fast-reasoning", "grok-4-1-fast-non-reasoning", "grok-code-fast-1",
        "grok-3", "grok-3-mini"]],
]

DATED = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")
TIER = re.compile(r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost|cache_creation_input_token_cost_above_1hr)_above_(\d+)k_tokens$")
TIER_FIELD = {"input_cost_per_token": "Input", "output_cost_per_token": "Output", "cache_read_input_token_cost": "CachedInput",
              "cache_creation_input_token_cost": "CacheWrite", "cache_creation_input_token_cost_above_1hr": "CacheWrite1h"}


def per_million(v):
    d = (Decimal(repr(float(v))) * 1_000_000).quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN).normalize()
    return d


def num(d):
    # JSON numbers written in plain decimal notation so every reader parses them exactly.
    s = format(d, "f")
    return json.loads(s) if "." not in s else float(s) if False else DecimalStr(s)


class DecimalStr(str):
    pass


def main():
    table = json.loads(SRC.read_text())
    out = {}
    for cid, provider, key in MODELS:
        e = table.get(key)
        if e is None:
            sys.exit(f"{key} is not in {SRC}")
        notes = [f"LiteLLM model_prices_and_context_window.json (July 2026), key '{key}'"]
        m = {"Provider": provider}
        bare = key.split("/", 1)[-1]
        aliases = {f"{provider}/{cid}"}
        if bare != cid:
            aliases.add(bare)
        for other, oe in table.items():
            ob = other.split("/", 1)[-1]
            if isinstance(oe, dict) and ob != cid and DATED.sub("", ob) in (cid, bare) and DATED.search(ob) \
                    and oe.get("input_cost_per_token") == e.get("input_cost_per_token") \
                    and oe.get("output_cost_per_token") == e.get("output_cost_per_token"):
                aliases.add(ob)
                aliases.add(f"{provider}/{ob}")
        m["Aliases"] = sorted(aliases)
        m["EffectiveDate"] = EFFECTIVE
        m["Input"] = per_million(e["input_cost_per_token"])
        if "cache_read_input_token_cost" in e:
            m["CachedInput"] = per_million(e["cache_read_input_token_cost"])
        if "cache_creation_input_token_cost" in e:
            m["CacheWrite"] = per_million(e["cache_creation_input_token_cost"])
        if "cache_creation_input_token_cost_above_1hr" in e:
            m["CacheWrite1h"] = per_million(e["cache_creation_input_token_cost_above_1hr"])
        m["Output"] = per_million(e["output_cost_per_token"])
        if "output_cost_per_reasoning_token" in e:
            m["Reasoning"] = per_million(e["output_cost_per_reasoning_token"])
        if "input_cost_per_token_batches" in e and "output_cost_per_token_batches" in e:
            m["BatchInput"] = per_million(e["input_cost_per_token_batches"])
            m["BatchOutput"] = per_million(e["output_cost_per_token_batches"])
        elif provider in HALF_PRICE_BATCH:
            m["BatchInput"] = (m["Input"] / 2).normalize()
            m["BatchOutput"] = (m["Output"] / 2).normalize()
            notes.append("batch = 50% of synchronous (the provider's documented batch discount; not in the table)")
        tiers = {}
        for f, v in e.items():
            t = TIER.match(f)
            if t and isinstance(v, (int, float)):
                tiers.setdefault(int(t.group(2)) * 1000, {})[TIER_FIELD[t.group(1)]] = per_million(v)
        if tiers:
            m["LongContext"] = [{"AboveInputTokens": k, **v} for k, v in sorted(tiers.items())]
        if isinstance(e.get("max_output_tokens"), int) and e["max_output_tokens"] > 0:
            m["MaxOutputTokens"] = e["max_output_tokens"]
        m["Source"] = "; ".join(notes)
        out[cid] = m

    def enc(o):
        if isinstance(o, Decimal):
            return DecimalStr(format(o, "f"))
        raise TypeError(o)

    text = json.dumps(out, indent=2, default=enc)
    # json.dumps quotes DecimalStr; unquote numbers so the file holds JSON numbers.
    text = re.sub(r'"(-?\d+(?:\.\d+)?)"', r"\1", text)
    OUT.write_text("{\n  \"$comment\": \"Generated by eng/generate-price-catalog.py; do not edit by hand. USD per million tokens.\",\n" + text[2:] + "\n")
    print(f"{len(out)} models -> {OUT.relative_to(ROOT)}")


main()
