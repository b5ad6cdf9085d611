// An agent's structured report as a table: a flat object as rows of field
// and value, a list of objects as a table with a column per field; anything
// deeper shown as JSON text.

const cell = (v: unknown) => (v !== null && typeof v === "object" ? JSON.stringify(v) : String(v));

export function Report({ report }: { report: unknown }) {
  if (report == null) return null;
  if (Array.isArray(report) && report.every((r) => r && typeof r === "object" && !Array.isArray(r))) {
    const columns = [...new Set(report.flatMap((r) => Object.keys(r as object)))];
    return (
      <table className="w-full text-sm" data-testid="report">
        <thead className="text-left text-xs text-muted-foreground">
          <tr>
            {columns.map((c) => (
              <th key={c} className="px-2 py-1 font-medium">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y">
          {report.map((r, i) => (
            <tr key={i}>
              {columns.map((c) => (
                <td key={c} className="px-2 py-1">
                  {cell((r as Record<string, unknown>)[c] ?? "")}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  if (typeof report === "object" && !Array.isArray(report)) {
    return (
      <table className="text-sm" data-testid="report">
        <tbody className="divide-y">
          {Object.entries(report as Record<string, unknown>).map(([k, v]) => (
            <tr key={k}>
              <th className="py-1 pr-4 text-left font-medium text-muted-foreground">{k}</th>
              <td className="py-1">
                {Array.isArray(v) && v.every((x) => x && typeof x === "object") ? <Report report={v} /> : cell(v)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    );
  }
  return <pre className="whitespace-pre-wrap text-sm">{cell(report)}</pre>;
}
