/// The pages' one stylesheet, served by the mirror itself (`/-/web/style.css`): no web font, no CDN,
/// readable on a phone (one column, tables scroll sideways).
public enum Stylesheet {
    public static let css = """
        :root { --ink: #1d1d1f; --muted: #5f6368; --line: #d9d9de; --accent: #a3202a; --good: #1e6b33; --bad: #a3202a; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fff; }
        header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
        header .brand { font-weight: 700; color: var(--accent); text-decoration: none; font-size: 1.1rem; }
        header form { display: flex; flex: 1 1 20rem; gap: .5rem; }
        header input { flex: 1; min-width: 0; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
        header button { padding: .45rem .9rem; border: 0; border-radius: 4px; background: var(--accent); color: #fff; font: inherit; }
        main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
        footer { max-width: 64rem; margin: 2rem auto; padding: 0 1rem; color: var(--muted); font-size: .85rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0; overflow-wrap: anywhere; }
        h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
        a { color: #1a55b8; }
        .note, .state { color: var(--muted); }
        .deprecated { color: var(--bad); }
        .description { font-size: 1.1rem; }
        pre { background: #f5f5f7; padding: .6rem .8rem; border-radius: 4px; overflow-x: auto; }
        dl.figures, dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(12rem, 1fr)); gap: .5rem 1.5rem; }
        dl div { border-left: 3px solid var(--line); padding-left: .6rem; }
        dt { color: var(--muted); font-size: .85rem; }
        dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
        .table { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-size: .9rem; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        tr.not-held { color: var(--muted); }
        .tag { display: inline-block; padding: 0 .35rem; border-radius: 3px; background: #eef; font-size: .8rem; }
        .verdict { white-space: nowrap; }
        ol.results li { margin: .6rem 0; }
        ol.results p { margin: .1rem 0; color: var(--muted); }
        .readme { overflow-wrap: anywhere; }
        .readme img { max-width: 100%; }
        .readme pre { white-space: pre-wrap; }

        """
}
