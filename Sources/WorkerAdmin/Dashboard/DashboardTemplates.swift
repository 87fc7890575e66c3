import Mustache

/// The dashboard's pages as Mustache templates, compiled into the binary (a worker needs no template files at
/// run time). `{{x}}` escapes HTML; `{{{x}}}` is used only for markup the dashboard drew itself (the charts).
enum DashboardTemplates {
    /// Every template by name, parsed once.
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in all { try library.register(text, named: name) }
        return library
    }

    static let all: [(String, String)] = [
        ("layout", layout), ("overview", overview), ("jobs", jobs), ("job", job), ("workers", workers),
        ("schedules", schedules), ("login", login), ("bulk", bulk), ("message", message),
    ]

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        {{#refresh}}<meta http-equiv="refresh" content="{{refresh}}">{{/refresh}}
        <title>{{title}} · worker</title>
        <style>
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
        header{background:#1d2330;color:#fff;padding:.6em 1.2em;display:flex;gap:1.4em;align-items:center;flex-wrap:wrap}
        header a{color:#cfd6e4;text-decoration:none}header a.here{color:#fff;font-weight:600}
        header .who{margin-left:auto;font-size:.9em;color:#aab3c5}header form{display:inline}
        main{padding:1em 1.2em;max-width:1400px}h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}
        table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:1em}
        th,td{border-bottom:1px solid #e3e6ec;padding:.35em .6em;text-align:left;vertical-align:top}
        th{background:#eef0f4;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        .state{font-weight:600}.s-dead,.s-retrying{color:#b3261e}.s-completed{color:#1e7b34}.s-running{color:#1a5fb4}
        .s-interrupted{color:#a15c00}.s-cancelled{color:#666}.paused{color:#a15c00;font-weight:600}
        pre{background:#fff;border:1px solid #e3e6ec;padding:.6em;overflow:auto;max-height:24em;white-space:pre-wrap;word-break:break-all}
        form.inline{display:inline}button{cursor:pointer}.muted{color:#6b7385}
        .notice{background:#e8f1fd;border:1px solid #b9d2f5;padding:.5em .8em;margin-bottom:1em}
        #error{background:#fdecea;border:1px solid #f2b8b5;padding:.5em .8em;margin-bottom:1em}
        .charts{display:flex;gap:1em;flex-wrap:wrap}.chart{background:#fff;border:1px solid #e3e6ec;padding:.5em}
        dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;background:#fff;padding:.8em;border:1px solid #e3e6ec}
        dt{font-weight:600}dd{margin:0;word-break:break-all}
        #filter input,#filter select{margin-right:.5em}
        </style></head><body>
        <header><strong>worker</strong>
        <a href="/" {{#nav.overview}}class="here"{{/nav.overview}}>Overview</a>
        <a href="/jobs" {{#nav.jobs}}class="here"{{/nav.jobs}}>Jobs</a>
        <a href="/workers" {{#nav.workers}}class="here"{{/nav.workers}}>Workers</a>
        <a href="/schedules" {{#nav.schedules}}class="here"{{/nav.schedules}}>Schedules</a>
        <span class="who">{{#readOnly}}read-only{{/readOnly}}{{^readOnly}}{{#loggedIn}}<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button id="logout">Log out</button></form>{{/loggedIn}}{{^loggedIn}}<a id="login-link" href="/login">Log in to act</a>{{/loggedIn}}{{/readOnly}}</span>
        </header><main>
        {{#notice}}<div class="notice" id="notice">{{notice}}</div>{{/notice}}
        {{{body}}}
        </main></body></html>
        """

    static let overview = """
        <h1>Overview</h1>
        <p class="muted">{{workersLive}} live worker(s) · {{completedLastHour}} attempt(s) completed in the last hour · as of {{at}} · refreshes every {{refresh}} s</p>
        <div class="charts">{{#charts}}<div class="chart">{{{svg}}}</div>{{/charts}}</div>
        <h2>Queues</h2>
        <table id="queues"><thead><tr><th>queue</th><th>status</th><th>limits</th>{{#states}}<th class="n">{{.}}</th>{{/states}}<th class="n">oldest queued</th><th></th></tr></thead><tbody>
        {{#queues}}<tr data-queue="{{name}}"><td><a href="/jobs?queue={{nameQuery}}">{{name}}</a></td>
        <td>{{#paused}}<span class="paused">paused</span>{{/paused}}{{^paused}}active{{/paused}}</td><td>{{limits}}</td>
        {{#counts}}<td class="n">{{#link}}<a href="/jobs?queue={{nameQuery}}&amp;state={{state}}">{{count}}</a>{{/link}}{{^link}}{{count}}{{/link}}</td>{{/counts}}
        <td class="n">{{oldest}}</td>
        <td><form class="inline" method="post" action="/queues/{{namePath}}/{{#paused}}resume{{/paused}}{{^paused}}pause{{/paused}}"><input type="hidden" name="csrf" value="{{csrf}}"><button class="{{#paused}}resume{{/paused}}{{^paused}}pause{{/paused}}">{{#paused}}Resume{{/paused}}{{^paused}}Pause{{/paused}}</button></form></td></tr>
        {{/queues}}
        {{^queues}}<tr><td colspan="12" class="muted">No job waiting, running or stopped.</td></tr>{{/queues}}
        </tbody><tfoot><tr><th>all</th><th></th><th></th>{{#totals}}<th class="n">{{.}}</th>{{/totals}}<th></th><th></th></tr></tfoot></table>
        """

    static let jobs = """
        <h1>Jobs</h1>
        <form id="filter" method="get" action="/jobs">
        <select name="state"><option value="">any state</option>{{#stateOptions}}<option value="{{value}}" {{#selected}}selected{{/selected}}>{{value}}</option>{{/stateOptions}}</select>
        <input name="queue" placeholder="queue" value="{{query.queue}}">
        <input name="handler" placeholder="handler" value="{{query.handler}}">
        <input name="schedule" placeholder="schedule" value="{{query.schedule}}">
        {{^hidePayloads}}<input name="q" placeholder="text in payload or error" value="{{query.text}}">{{/hidePayloads}}
        <select name="order"><option value="newest">newest first</option><option value="oldest" {{#oldestFirst}}selected{{/oldestFirst}}>oldest first</option></select>
        <button id="apply">Filter</button> <a href="/jobs">clear</a></form>
        {{#selects}}<p>Everything this filter matches: <a id="bulk-retry" href="/jobs/bulk?action=retry&amp;{{queryString}}">retry…</a> · <a id="bulk-cancel" href="/jobs/bulk?action=cancel&amp;{{queryString}}">cancel…</a></p>{{/selects}}
        <table id="jobs"><thead><tr><th class="n">id</th><th>handler</th><th>queue</th><th>state</th><th class="n">attempts</th><th>created</th><th>updated</th>{{^hidePayloads}}<th>last error</th>{{/hidePayloads}}</tr></thead><tbody>
        {{#rows}}<tr data-job-id="{{id}}"><td class="n"><a href="/jobs/{{id}}">{{id}}</a></td><td>{{handler}}</td><td>{{queue}}</td><td class="state s-{{state}}">{{state}}</td><td class="n">{{attempts}}</td><td>{{created}}</td><td>{{updated}}</td>{{^hidePayloads}}<td>{{error}}</td>{{/hidePayloads}}</tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="8" class="muted">No job matches.</td></tr>{{/rows}}
        </tbody></table>
        {{#nextLink}}<a id="next" href="{{nextLink}}">Next page →</a>{{/nextLink}}
        {{#query.text}}<p class="muted">A text search reads at most {{searchScan}} jobs per page: a short or empty page with a next link has more to search.</p>{{/query.text}}
        """

    static let job = """
        <h1>Job {{id}}</h1>
        <p><span id="job-state" class="state s-{{state}}">{{state}}</span> · {{handler}} on {{queue}}
        {{#canRetry}}<form id="retry" class="inline" method="post" action="/jobs/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><button>Retry now</button></form>{{/canRetry}}
        {{#canCancel}}<form id="cancel" class="inline" method="post" action="/jobs/{{id}}/cancel"><input type="hidden" name="csrf" value="{{csrf}}"><button>Cancel</button></form>{{/canCancel}}</p>
        <dl>{{#fields}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/fields}}</dl>
        <h2>Payload</h2><pre id="payload">{{payload}}</pre>
        <h2>Checkpoint</h2><pre id="checkpoint">{{checkpoint}}</pre>
        {{#hasSteps}}<h2>Steps</h2><table id="steps"><thead><tr><th>step</th><th>attempt</th><th>state</th></tr></thead><tbody>
        {{#steps}}<tr><td>{{name}}</td><td class="n">{{attempt}}</td><td>{{text}}</td></tr>{{/steps}}</tbody></table>{{/hasSteps}}
        <h2>History</h2>
        <table id="events"><thead><tr><th>at</th><th>from</th><th>to</th><th class="n">attempt</th><th>by</th><th>why</th></tr></thead><tbody>
        {{#events}}<tr><td>{{at}}</td><td>{{from}}</td><td class="state s-{{to}}">{{to}}</td><td class="n">{{attempt}}</td><td>{{by}}</td><td>{{reason}}</td></tr>{{/events}}
        </tbody></table>
        """

    static let workers = """
        <h1>Workers</h1>
        <p class="muted">Live workers first, then the latest that stopped or died · refreshes every {{refresh}} s</p>
        <table id="workers"><thead><tr><th>worker</th><th>status</th><th>host</th><th class="n">pid</th><th>version</th><th>started</th><th>heartbeat</th><th class="n">running</th><th>stopped</th></tr></thead><tbody>
        {{#rows}}<tr data-worker="{{id}}"><td>{{id}}</td><td class="{{status}}">{{status}}</td><td>{{host}}</td><td class="n">{{pid}}</td><td>{{version}}</td><td>{{started}}</td><td>{{heartbeat}}</td><td class="n">{{running}}</td><td>{{stopped}}</td></tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="9" class="muted">No worker has registered yet.</td></tr>{{/rows}}
        </tbody></table>
        """

    static let schedules = """
        <h1>Schedules</h1>
        <table id="schedules"><thead><tr><th>schedule</th><th>cron</th><th>handler</th><th>queue</th><th>status</th><th>next fire</th><th>last tick</th><th class="n">fired</th><th class="n">skipped</th><th class="n">missed</th><th class="n">manual</th><th></th></tr></thead><tbody>
        {{#rows}}<tr data-schedule="{{name}}"><td><a href="/jobs?schedule={{nameQuery}}">{{name}}</a></td><td><code>{{cron}}</code> {{timeZone}}</td><td>{{handler}}</td><td>{{queue}}</td>
        <td>{{#paused}}<span class="paused">paused</span>{{/paused}}{{^paused}}active{{/paused}}</td><td>{{next}}</td><td>{{last}}</td>
        <td class="n">{{fired}}</td><td class="n">{{skipped}}</td><td class="n">{{missed}}</td><td class="n">{{manual}}</td>
        <td><form class="run-now inline" method="post" action="/schedules/{{namePath}}/run"><input type="hidden" name="csrf" value="{{csrf}}"><button>Run now</button></form></td></tr>
        {{/rows}}
        {{^rows}}<tr><td colspan="12" class="muted">No schedules. Add one with <code>worker schedule add</code>.</td></tr>{{/rows}}
        </tbody></table>
        """

    static let login = """
        <h1>Log in</h1>
        {{#readOnly}}<p class="notice">This dashboard is read-only: the worker was started without <code>--admin-token-file</code>, so no action is allowed.</p>{{/readOnly}}
        {{^readOnly}}<form id="login" method="post" action="/login">
        <label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label>
        <button id="login-submit">Log in</button></form>
        <p class="muted">The token is the content of the worker's <code>--admin-token-file</code>.</p>{{/readOnly}}
        """

    static let bulk = """
        <h1>{{verb}} every job of {{description}}</h1>
        <p id="bulk-count">{{matched}} job(s) match: <strong>{{accepted}}</strong> would be {{done}}{{#runningText}} ({{runningText}}){{/runningText}}{{#skippedText}}; {{skippedText}}{{/skippedText}}.</p>
        {{#canConfirm}}<form id="bulk-confirm" method="post" action="/jobs/bulk"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="{{action}}">
        {{#hidden}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hidden}}
        <button id="confirm">{{verb}} {{accepted}} job(s)</button> <a href="/jobs?{{queryString}}">back</a></form>{{/canConfirm}}
        {{^canConfirm}}<p><a href="/jobs?{{queryString}}">back</a></p>{{/canConfirm}}
        """

    static let message = """
        <h1>{{heading}}</h1>
        {{#error}}<p id="error">{{error}}</p>{{/error}}{{#text}}<p id="message">{{text}}</p>{{/text}}
        {{#loginLink}}<p><a href="/login">Log in</a></p>{{/loginLink}}
        <p><a href="{{back}}">Back</a></p>
        """
}
