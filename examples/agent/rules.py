"""An offline agent: a rule-based planner and two plugins, one of which reads uploaded files.

Served by ``make run`` (``dialoghub serve --agent examples/agent/rules.py --workspace
.dialoghub/workspace``); try::

    curl -s -X POST localhost:8000/v1/sessions/demo/messages -H "Authorization: Bearer $KEY" \\
         -F message='summarize my file' -F files=@examples/agent/sales.csv
    curl -sN localhost:8000/v1/sessions/demo/messages/stream -H "Authorization: Bearer $KEY"

``weather in <city>`` calls the ``forecast`` plugin; ``summarize`` (with CSV files) calls
``csv_summary`` on each file the message brought, which streams its progress and attaches
its table; ``what did I ask`` reads back the session variables the plugins set.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from dialoghub.agent import PluginContext, Plugins, RulePlanner, Turn

PLUGINS = Plugins()
PLANNER = RulePlanner(
    default="I can tell the weather ('weather in Paris') or summarize the "
    "CSV files you send ('summarize')."
)

#: city -> (forecast, degrees Celsius)
FORECASTS = {"paris": ("sunny", 21), "london": ("rainy", 14), "tokyo": ("cloudy", 18)}


@PLUGINS.register()
def forecast(ctx: PluginContext, city: str) -> dict[str, Any]:
    """The forecast of a city, from a local table."""
    ctx.status(f"looking up {city}")
    found = FORECASTS.get(city.lower())
    if found is None:
        raise LookupError(f"no forecast for {city}")
    ctx.set_session_var("last_city", city)
    return {"city": city, "forecast": found[0], "temperature": found[1]}


@PLUGINS.register()
def csv_summary(ctx: PluginContext, path: str) -> dict[str, Any]:
    """Rows, columns and the sum of each numeric column of a CSV file in the workspace."""
    file = Path(path)
    if ctx.workspace is None or not file.resolve().is_relative_to(ctx.workspace.resolve()):
        raise PermissionError(f"{path} is not in this session's workspace")
    with file.open(newline="") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    sums: dict[str, float] = {}
    for i, row in enumerate(rows):
        if i % 100 == 0:
            ctx.status(f"row {i} of {len(rows)}")
        for name, value in row.items():
            try:
                sums[name] = sums.get(name, 0.0) + float(value)
            except (TypeError, ValueError):
                continue
    ctx.stream(f"{file.name}: {len(rows)} rows, columns {', '.join(columns)}")
    ctx.attach("json", {"rows": len(rows), "sums": sums}, name=f"{file.name} summary")
    ctx.set_session_var("summarized", [*ctx.get_session_var("summarized", []), file.name])
    return {"file": file.name, "rows": len(rows), "sums": sums}


@PLANNER.rule(r"weather in (?P<city>[a-z]+)")
async def weather(turn: Turn, m: re.Match[str]) -> str:
    r = await turn.call("forecast", {"city": m["city"].strip()})
    return f"{r['city']}: {r['forecast']}, {r['temperature']} °C"


@PLANNER.rule(r"summar")
async def summarize(turn: Turn, m: re.Match[str]) -> str:
    if not turn.files:
        return "Send me CSV files with the message and I will summarize them."
    parts = []
    for path in turn.files:
        r = await turn.call("csv_summary", {"path": path})
        sums = ", ".join(f"{k} {v:g}" for k, v in r["sums"].items())
        parts.append(f"{r['file']}: {r['rows']} rows" + (f" (totals: {sums})" if sums else ""))
    return "; ".join(parts)


@PLANNER.rule(r"what did i ask")
async def recall(turn: Turn, m: re.Match[str]) -> str:
    city = turn.variables.get("last_city")
    files = turn.variables.get("summarized", [])
    return f"Last city: {city or 'none'}; files summarized: {', '.join(files) or 'none'}."
