/// The console's style sheet and script, served from the binary: no CDN, no build step.
enum ConsoleAssets {
    static let css = """
        :root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0a58ca; --bad: #b42318; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink); background: #fff; }
        header { display: flex; align-items: center; gap: 1.5rem; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); }
        .brand { font-weight: 700; color: var(--ink); text-decoration: none; }
        nav { display: flex; align-items: center; gap: 1rem; flex: 1; }
        nav .who { margin-left: auto; color: var(--muted); }
        main { max-width: 64rem; margin: 1.5rem auto; padding: 0 1.5rem; }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus { outline: 3px solid #7aa7ff; outline-offset: 2px; }
        form.inline { display: inline; }
        label { display: block; margin: .75rem 0 .25rem; font-weight: 600; }
        input, select { font: inherit; padding: .4rem .5rem; border: 1px solid #8c959f; border-radius: 4px; min-width: 16rem; }
        button { font: inherit; padding: .4rem .9rem; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; }
        button.danger { background: var(--bad); border-color: var(--bad); }
        button.secondary { background: #fff; color: var(--accent); }
        table { width: 100%; border-collapse: collapse; margin: 1rem 0; }
        th, td { text-align: left; padding: .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        .error { color: var(--bad); font-weight: 600; }
        .hint { color: var(--muted); }
        .secret { font-family: ui-monospace, monospace; background: #f6f8fa; padding: .5rem; border: 1px solid var(--line); word-break: break-all; }
        .status-revoked, .status-expired { color: var(--bad); }
        .chart { width: 100%; max-width: 45rem; height: auto; border: 1px solid var(--line); }
        .chart .axis { stroke: #8c959f; }
        .chart .tick { font-size: 10px; fill: var(--muted); }
        .bar-valid, .swatch-valid { fill: #1a7f37; background: #1a7f37; }
        .bar-refused, .swatch-refused { fill: #cf222e; background: #cf222e; }
        .swatch { display: inline-block; width: .8rem; height: .8rem; vertical-align: middle; }
        .details th { width: 10rem; }
        .filters input { min-width: 12rem; }
        label.inline-label { display: inline; font-weight: 400; }
        input[type=checkbox] { min-width: 0; }
        """

    /// Progressive enhancement only: every page works without it. Copies a secret to the clipboard.
    static let javascript = """
        document.addEventListener("click", async (event) => {
          const button = event.target.closest("[data-copy]");
          if (!button) return;
          const source = document.getElementById(button.dataset.copy);
          try {
            await navigator.clipboard.writeText(source.textContent.trim());
            button.textContent = "Copied";
          } catch {
            button.textContent = "Copy failed: select the text";
          }
        });
        for (const button of document.querySelectorAll("[data-copy]")) button.hidden = false;
        """
}
