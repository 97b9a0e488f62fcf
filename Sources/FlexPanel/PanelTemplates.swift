import Mustache

/// The panel's pages as Mustache templates: `{{…}}` escapes what it shows, `{{{…}}}` is used only for the page body
/// the layout wraps, which was rendered (and escaped) by its own template.
enum PanelTemplates {
    static func library() throws -> MustacheLibrary {
        var library = MustacheLibrary()
        for (name, text) in [
            ("layout", layout), ("login", login), ("dashboard", dashboard), ("orders", orders), ("order", order),
            ("reject", reject),
            ("message", message), ("manifests", manifests), ("returns", returns), ("return", returnPage),
            ("connections", connections), ("newConnection", newConnection), ("connection", connection),
            ("stock", stock), ("access", access),
        ] {
            try library.register(text, named: name)
        }
        return library
    }

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · FlexBridge</title>
        <link rel="stylesheet" href="/panel.css">
        <script src="/panel.js" defer></script>
        </head>
        <body{{#live}} data-live="{{.}}"{{/live}}>
        {{#operator}}
        <header>
        <a class="brand" href="/">FlexBridge</a>
        <nav><a href="/">Dashboard</a> <a href="/orders">Orders</a> <a href="/manifests">Manifests</a> <a href="/returns">Returns</a> <a href="/stock">Stock</a> <a href="/connections">Connections</a>{{#canAccess}} <a href="/access">Access</a>{{/canAccess}}</nav>
        <form class="logout" method="post" action="/logout">
        <span>{{name}} · {{role}}</span>
        <input type="hidden" name="csrf" value="{{csrf}}">
        <button type="submit">Log out</button>
        </form>
        </header>
        {{/operator}}
        <main>
        {{#notice}}<p class="notice">{{.}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert">{{.}}</p>{{/error}}
        {{{body}}}
        </main>
        </body>
        </html>
        """

    static let login = """
        <h1>Log in</h1>
        <form class="login" method="post" action="/login">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="next" value="{{next}}">
        <label>Name <input name="name" value="{{name}}" autocomplete="username" required maxlength="100"></label>
        <label>Password <input type="password" name="password" autocomplete="current-password" required maxlength="200"></label>
        <button type="submit">Log in</button>
        </form>
        """

    static let dashboard = """
        <h1>Dashboard</h1>
        {{^connections}}<p>No connection yet: <a href="/connections">add one</a>.</p>{{/connections}}
        {{#connections}}
        <section class="connection">
        <h2><a href="/connections/{{id}}">{{name}}</a> <small>{{sellingPartnerId}} · {{region}}</small> <span class="status {{status}}">{{status}}</span></h2>
        {{#needsAuthorization}}<p class="error">The seller must authorise FlexBridge again: <a href="/connections/{{id}}">authorise</a>.</p>{{/needsAuthorization}}
        <div class="health">
        <div class="tile"><h3>Stock</h3>
        <p><b>{{backlog}}</b> of {{items}} items waiting to go to Amazon{{#hasStockFailed}}, <a class="error" href="/stock?status=failed">{{stockFailed}} failed</a>{{/hasStockFailed}}</p>
        <p>{{rate}} SKUs/s in the last minute, {{busiest}} at the busiest; Amazon takes up to {{bound}}/s</p>
        <p>Last push {{lastPush}}</p>
        {{{stockChart}}}
        </div>
        <div class="tile"><h3>Orders</h3>
        <p>Last poll {{lastPoll}}, last notification {{lastNotification}}</p>
        <p>{{#hasAtRisk}}<a class="error" href="/orders?atRisk=1&amp;connectionId={{id}}">{{atRisk}} at risk</a>{{/hasAtRisk}}{{^hasAtRisk}}None at risk{{/hasAtRisk}} (due to ship within 4 h, late, or stuck on a failed command);
        {{#hasCommandsFailed}}<span class="error">{{commandsFailed}} commands failed</span>{{/hasCommandsFailed}}{{^hasCommandsFailed}}no command failed{{/hasCommandsFailed}} in 24 h</p>
        {{{ordersChart}}}
        </div>
        <div class="tile"><h3>Amazon</h3>
        <p>{{calls}} calls in the last hour: {{throttled}} throttled (429), {{errors}} other errors</p>
        {{{callsChart}}}
        </div>
        </div>
        <table>
        <thead><tr>{{#states}}<th>{{label}}</th>{{/states}}</tr></thead>
        <tbody><tr>{{#states}}<td><a href="/orders?state={{state}}&amp;connectionId={{connectionId}}">{{count}}</a></td>{{/states}}</tr></tbody>
        </table>
        </section>
        {{/connections}}
        """

    static let orders = """
        <h1>Orders</h1>
        <form class="search" method="get" action="/orders">
        <label>Find <input name="q" value="{{q}}" maxlength="100" placeholder="shipment, SKU, tracking"></label>
        <label>State <select name="state"><option value="">Any</option>{{#states}}<option value="{{state}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select></label>
        <label>Connection <select name="connectionId"><option value="">Any</option>{{#connections}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/connections}}</select></label>
        <label>Location <input name="locationId" value="{{locationId}}" maxlength="100"></label>
        <label><input type="checkbox" name="atRisk" value="1"{{#atRisk}} checked{{/atRisk}}> At risk (due within 4 h, late, or a command failed)</label>
        <button type="submit">Show</button>
        </form>
        <table>
        <thead><tr><th>Shipment</th><th>Connection</th><th>Location</th><th>Amazon's status</th><th>State</th><th>Ship by</th><th>Problem</th></tr></thead>
        <tbody>
        {{#orders}}
        <tr><td><a href="/orders/{{shipmentId}}">{{shipmentId}}</a></td><td>{{connection}}</td><td>{{locationId}}</td><td>{{status}}</td><td>{{state}}</td><td{{#late}} class="error"{{/late}}>{{shipBy}}{{#late}} (late){{/late}}</td><td>{{problem}}</td></tr>
        {{/orders}}
        {{^orders}}<tr><td colspan="7">No order here.</td></tr>{{/orders}}
        </tbody>
        </table>
        {{#next}}<p><a href="/orders?{{filterQuery}}after={{next}}">Next page</a></p>{{/next}}
        """

    static let order = """
        <h1>Order {{shipmentId}}</h1>
        <dl>
        <dt>State</dt><dd>{{state}}</dd>
        <dt>Amazon's status</dt><dd>{{status}}</dd>
        <dt>Program</dt><dd>{{program}}</dd>
        <dt>Location</dt><dd>{{locationId}}</dd>
        <dt>Ship by</dt><dd>{{shipBy}}</dd>
        {{#original}}<dt>Replaces</dt><dd><a href="/orders/{{.}}">{{.}}</a></dd>{{/original}}
        {{#serviceLevel}}<dt>Service level</dt><dd>{{.}}</dd>{{/serviceLevel}}
        {{#shipMethod}}<dt>Ship method</dt><dd>{{.}}</dd>{{/shipMethod}}
        {{#unmapped}}<dt>Ship method</dt><dd class="error">not in the connection's ship-method table: name the carrier when shipping</dd>{{/unmapped}}
        {{#problem}}<dt>Problem</dt><dd class="error">{{.}}</dd>{{/problem}}
        </dl>
        {{#putBack}}
        <section class="putback">
        <h2>Put back</h2>
        <p>The order was cancelled after it was {{stage}}: return {{#items}}{{.}}; {{/items}}to stock{{#packages}} (packages {{.}}){{/packages}}.</p>
        </section>
        {{/putBack}}
        <h2>Lines</h2>
        <table><thead><tr><th>Line</th><th>Merchant SKU</th><th>Units</th></tr></thead><tbody>
        {{#lines}}<tr><td>{{id}}</td><td>{{sku}}</td><td>{{units}}</td></tr>{{/lines}}
        </tbody></table>
        {{#handedOver}}<p>This order's location was handed over to another connector: FlexBridge runs no command here.</p>{{/handedOver}}
        {{#mfn}}<p>A merchant-fulfilled order: its marketplace stands in the location's place. Each package is one ship: Amazon is told its items, carrier and tracking id, and a package of fewer units than are left leaves the order partly shipped.</p>{{/mfn}}
        {{#hasActions}}<h2>Next</h2>{{/hasActions}}
        <div class="actions">
        {{#canConfirm}}
        <form method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}c">
        <input type="hidden" name="type" value="confirm"><button type="submit">Confirm</button>
        </form>
        {{/canConfirm}}
        {{#pack}}
        <form class="pack" method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}p">
        <input type="hidden" name="type" value="pack">
        {{#packages}}
        <fieldset>
        <legend>Package {{number}}</legend>
        {{#items}}<p>{{text}}</p>{{#serials}}<label>Serial numbers, one per line ({{units}}) <textarea name="{{name}}" rows="2">{{value}}</textarea></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/serials}}{{/items}}
        <div class="sizes">
        {{#length}}<label>Length <input name="{{name}}" value="{{value}}" inputmode="decimal" required maxlength="20"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/length}}
        {{#width}}<label>Width <input name="{{name}}" value="{{value}}" inputmode="decimal" required maxlength="20"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/width}}
        {{#height}}<label>Height <input name="{{name}}" value="{{value}}" inputmode="decimal" required maxlength="20"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/height}}
        {{#dimensionUnit}}<label>Unit <select name="{{name}}">{{#units}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/units}}</select></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/dimensionUnit}}
        {{#weight}}<label>Weight <input name="{{name}}" value="{{value}}" inputmode="decimal" required maxlength="20"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/weight}}
        {{#weightUnit}}<label>Unit <select name="{{name}}">{{#units}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/units}}</select></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/weightUnit}}
        </div>
        {{#error}}<p class="error">{{.}}</p>{{/error}}
        </fieldset>
        {{/packages}}
        {{#error}}<p class="error">{{.}}</p>{{/error}}
        <button type="submit">Pack</button>
        </form>
        {{/pack}}
        {{#label}}
        <form method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}o">
        <input type="hidden" name="type" value="shipping_options"><button type="submit">Get shipping options</button>
        </form>
        <form class="label" method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}l">
        <input type="hidden" name="type" value="label">
        <label>Shipping option <select name="shippingOptionId"><option value="">Amazon's recommendation</option>{{#options}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{text}}</option>{{/options}}</select></label>
        <label>Own carrier <input name="carrierName" value="{{carrierName}}" maxlength="100"></label>
        <label>its tracking id <input name="trackingId" value="{{trackingId}}" maxlength="100"></label>
        {{#carrierError}}<span class="error">{{.}}</span>{{/carrierError}}
        <button type="submit">Print label</button>
        </form>
        {{/label}}
        {{#canShip}}
        <form method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}s">
        <input type="hidden" name="type" value="ship"><button type="submit">Hand over</button>
        </form>
        {{/canShip}}
        {{#shipForm}}
        <form class="ship" method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}m">
        <input type="hidden" name="type" value="ship">
        <fieldset>
        <legend>Ship a package</legend>
        {{#lines}}<label>{{text}}: units in this package (of {{left}} left) <input name="{{name}}" value="{{value}}" inputmode="numeric" required maxlength="9"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/lines}}
        {{#error}}<p class="error">{{.}}</p>{{/error}}
        <label>Carrier <select name="carrier">{{#carriers}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{text}}</option>{{/carriers}}</select></label>{{#carrierError}}<span class="error">{{.}}</span>{{/carrierError}}
        {{#carrierCode}}<label>Amazon's carrier code (another carrier) <input name="{{name}}" value="{{value}}" maxlength="64"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/carrierCode}}
        {{#carrierName}}<label>Carrier name (with code Other) <input name="{{name}}" value="{{value}}" maxlength="100"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/carrierName}}
        {{#shippingMethod}}<label>Shipping method <input name="{{name}}" value="{{value}}" maxlength="100"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/shippingMethod}}
        {{#trackingId}}<label>Tracking id <input name="{{name}}" value="{{value}}" required maxlength="100"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/trackingId}}
        {{#shipDate}}<label>Shipped on (empty: now) <input type="date" name="{{name}}" value="{{value}}"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/shipDate}}
        </fieldset>
        <button type="submit">Ship</button>
        </form>
        {{/shipForm}}
        {{#canRegenerate}}
        <form method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}g">
        <input type="hidden" name="type" value="regenerate_labels"><button type="submit">Print labels again</button>
        </form>
        {{/canRegenerate}}
        {{#canInvoice}}
        <form method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}i">
        <input type="hidden" name="type" value="invoice"><button type="submit">Invoice</button>
        </form>
        {{/canInvoice}}
        {{#canConfirm}}{{> reject}}{{/canConfirm}}{{#canReject}}{{> reject}}{{/canReject}}
        </div>
        <h2>Files</h2>
        <table><thead><tr><th>File</th><th>Package</th><th>Carrier and tracking</th><th>Made</th></tr></thead><tbody>
        {{#documents}}<tr><td><a href="/documents/{{id}}">{{kind}}</a></td><td>{{packageId}}</td><td>{{tracking}}</td><td>{{at}}</td></tr>{{/documents}}
        {{^documents}}<tr><td colspan="4">None yet.</td></tr>{{/documents}}
        </tbody></table>
        <h2>Commands</h2>
        <table><thead><tr><th>Command</th><th>Status</th><th>Asked by</th><th>Result</th></tr></thead><tbody>
        {{#commands}}<tr><td>{{type}}</td><td>{{status}}</td><td>{{requestedBy}}</td><td>{{result}}</td></tr>{{/commands}}
        {{^commands}}<tr><td colspan="4">None yet.</td></tr>{{/commands}}
        </tbody></table>
        <h2>Timeline</h2>
        <table><thead><tr><th>Amazon's status</th><th>At Amazon</th><th>Seen by</th></tr></thead><tbody>
        {{#history}}<tr><td>{{status}}</td><td>{{at}}</td><td>{{source}}</td></tr>{{/history}}
        </tbody></table>
        """

    static let reject = """
        <form method="post" action="/orders/{{shipmentId}}/commands">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}r">
        <input type="hidden" name="type" value="reject">
        <select name="reason" aria-label="Reason">{{#reasons}}<option value="{{.}}">{{.}}</option>{{/reasons}}</select>
        <button type="submit">Reject</button>
        </form>
        """

    static let manifests = """
        <h1>Manifests</h1>
        {{#canWork}}
        <h2>Ready to go</h2>
        {{^ready}}<p>No labelled order waits for a manifest.</p>{{/ready}}
        {{#hasReady}}<table><thead><tr><th>Connection</th><th>Location</th><th>Labelled orders</th><th></th></tr></thead><tbody>{{/hasReady}}
        {{#ready}}
        <tr><td>{{connection}}</td><td>{{locationId}}</td><td>{{count}}</td><td>
        <form method="post" action="/manifests">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}">
        <input type="hidden" name="connectionId" value="{{connectionId}}"><input type="hidden" name="locationId" value="{{locationId}}">
        <button type="submit">Build manifest</button>
        </form></td></tr>
        {{/ready}}
        {{#hasReady}}</tbody></table>{{/hasReady}}
        {{/canWork}}
        <h2>Made</h2>
        <table>
        <thead><tr><th>Manifest</th><th>Carrier</th><th>Location</th><th>Orders</th><th>Status</th><th>Made</th><th>By</th><th></th></tr></thead>
        <tbody>
        {{#manifests}}
        <tr><td>{{id}}</td><td>{{carrier}}</td><td>{{locationId}}</td><td>{{orders}}</td><td>{{status}}</td><td>{{createdAt}}</td><td>{{createdBy}}</td>
        <td><a href="/manifests/{{id}}/pdf">PDF</a>
        {{#canHandOver}}<form class="inline" method="post" action="/manifests/{{id}}/handover"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Hand over</button></form>{{/canHandOver}}
        </td></tr>
        {{/manifests}}
        {{^manifests}}<tr><td colspan="8">None yet.</td></tr>{{/manifests}}
        </tbody>
        </table>
        """

    static let returns = """
        <h1>Returns</h1>
        <nav class="filters">
        <a href="/returns"{{#all}} class="current"{{/all}}>All</a>
        {{#statuses}}<a href="/returns?status={{status}}"{{#current}} class="current"{{/current}}>{{status}}</a> {{/statuses}}
        </nav>
        <table>
        <thead><tr><th>Return</th><th>Order</th><th>RMA</th><th>SKU</th><th>Units</th><th>Type</th><th>Amazon's status</th><th>Received</th></tr></thead>
        <tbody>
        {{#returns}}
        <tr><td><a href="/returns/{{id}}">{{id}}</a></td><td>{{#shipmentId}}<a href="/orders/{{.}}">{{.}}</a>{{/shipmentId}}</td><td>{{rmaId}}</td><td>{{sku}}</td><td>{{units}}</td><td>{{type}}</td><td>{{status}}</td><td>{{received}}</td></tr>
        {{/returns}}
        {{^returns}}<tr><td colspan="8">No return here.</td></tr>{{/returns}}
        </tbody>
        </table>
        {{#next}}<p><a href="/returns?{{statusQuery}}after={{next}}">Next page</a></p>{{/next}}
        """

    static let returnPage = """
        <h1>Return {{id}}</h1>
        <dl>
        <dt>Amazon's status</dt><dd>{{status}}</dd>
        <dt>Order</dt><dd>{{#shipmentId}}<a href="/orders/{{.}}">{{.}}</a>{{/shipmentId}}</dd>
        <dt>RMA</dt><dd>{{rmaId}}</dd>
        <dt>Merchant SKU</dt><dd>{{sku}}</dd>
        <dt>Units</dt><dd>{{units}}</dd>
        <dt>Type</dt><dd>{{type}} {{subType}}</dd>
        <dt>Reason</dt><dd>{{reason}}</dd>
        <dt>Return location</dt><dd>{{locationId}}</dd>
        <dt>Tracking</dt><dd>{{tracking}}</dd>
        {{#otp}}<dt>OTP</dt><dd>{{.}}</dd>{{/otp}}
        </dl>
        {{#receipt}}
        <h2>Received</h2>
        <p>{{receivedAt}} by {{receivedBy}}: {{items}}{{#restocked}}; {{.}}{{/restocked}}</p>
        {{/receipt}}
        {{#canReceive}}
        <h2>Receive</h2>
        <p>Grade every unit ({{units}}); missing for those not in the parcel.</p>
        <form class="receive" method="post" action="/returns/{{id}}/receive">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}">
        {{#grades}}<label>{{label}} <input type="number" name="grade.{{grade}}" value="{{value}}" min="0" max="{{units}}"></label>{{/grades}}
        {{#fieldError}}<p class="error">{{.}}</p>{{/fieldError}}
        <label><input type="checkbox" name="restock" value="on" checked> Put sellable units back on sale at the hub</label>
        <button type="submit">Record receipt</button>
        </form>
        {{/canReceive}}
        <h2>Timeline</h2>
        <table><thead><tr><th>Amazon's status</th><th>At Amazon</th></tr></thead><tbody>
        {{#history}}<tr><td>{{status}}</td><td>{{at}}</td></tr>{{/history}}
        </tbody></table>
        """

    static let connections = """
        <h1>Connections</h1>
        <table>
        <thead><tr><th>Name</th><th>Seller</th><th>Region</th><th>Status</th><th>Authorised</th></tr></thead>
        <tbody>
        {{#connections}}<tr><td><a href="/connections/{{id}}">{{name}}</a></td><td>{{seller}}</td><td>{{region}}</td><td>{{status}}</td><td>{{authorized}}</td></tr>{{/connections}}
        {{^connections}}<tr><td colspan="5">No connection yet.</td></tr>{{/connections}}
        </tbody>
        </table>
        {{#canAdd}}<p><a class="button" href="/connections/new">Add a connection</a></p>{{/canAdd}}
        """

    static let newConnection = """
        <h1>New connection</h1>
        <p>A seller account in one region. After adding it, the seller authorises FlexBridge with Amazon.</p>
        <form class="settings" method="post" action="/connections">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{#fields}}<label>{{label}} <small>{{hint}}</small> <input name="{{name}}" value="{{value}}"{{#secret}} type="password" autocomplete="off"{{/secret}}{{#required}} required{{/required}} maxlength="500"></label>{{#error}}<span class="error">{{.}}</span>{{/error}}{{/fields}}
        <label>Region <select name="region">{{#regions}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/regions}}</select></label>
        <button type="submit">Add connection</button>
        </form>
        """

    static let connection = """
        <h1>{{name}} <small>{{seller}} · {{region}}</small> <span class="status {{status}}">{{status}}</span></h1>
        <h2>Settings</h2>
        <form class="settings" method="post" action="/connections/{{id}}/settings">
        <input type="hidden" name="csrf" value="{{csrf}}">
        {{#toggles}}<label><input type="checkbox" name="{{name}}" value="on"{{#on}} checked{{/on}}{{^canChange}} disabled{{/canChange}}> {{label}}</label>{{/toggles}}
        {{#numbers}}<label>{{label}} <input name="{{name}}" value="{{value}}" inputmode="numeric"{{^canChange}} disabled{{/canChange}}>{{#error}}<span class="error"> {{.}}</span>{{/error}}</label>{{/numbers}}
        {{#merchant}}
        <fieldset>
        <legend>Merchant-fulfilled (MFN) orders</legend>
        <p>Marketplaces whose MFN orders are pulled: {{#marketplaces}}<label><input type="checkbox" name="{{name}}" value="on"{{#on}} checked{{/on}}{{^canChange}} disabled{{/canChange}}> {{id}}</label> {{/marketplaces}}{{#marketplacesError}}<span class="error">{{.}}</span>{{/marketplacesError}}</p>
        <label>First download from (YYYY-MM-DD; empty: a day back); older orders are not pulled <input type="date" name="mfnEarliestOrderDate" value="{{earliest}}"{{^canChange}} disabled{{/canChange}}></label>{{#earliestError}}<span class="error">{{.}}</span>{{/earliestError}}
        <label>Product code the WMS is given <select name="productCode"{{^canChange}} disabled{{/canChange}}>{{#productCodes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{text}}</option>{{/productCodes}}</select></label>
        <label>Ship methods, one a line: marketplace (* for any), Amazon's service level, WMS carrier, WMS method, Amazon's carrier code[, carrier name[, shipping method]] <textarea name="shipMethods" rows="5" cols="60"{{^canChange}} disabled{{/canChange}}>{{shipMethods}}</textarea></label>{{#shipMethodsError}}<span class="error">{{.}}</span>{{/shipMethodsError}}
        </fieldset>
        {{/merchant}}
        {{#canChange}}<button type="submit">Save settings</button>{{/canChange}}
        </form>
        <h2>Amazon</h2>
        <p>Seller {{seller}} in {{region}} ({{marketplaces}}) through {{endpoint}}: {{#authorized}}authorised{{/authorized}}{{^authorized}}<span class="error">not authorised yet</span>{{/authorized}}.</p>
        {{#canManage}}
        <div class="actions">
        <form method="post" action="/connections/{{id}}/authorize"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Authorise with Amazon</button></form>
        <form method="post" action="/connections/{{id}}/link"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Make a link for the seller</button></form>
        <form method="post" action="/connections/{{id}}/test"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Test the connection</button></form>
        </div>
        {{/canManage}}
        {{#link}}<p>Consent link, works until {{expiresAt}}: <code class="link">{{url}}</code></p>{{/link}}
        {{#test}}
        <table class="checks"><thead><tr><th>Check</th><th>Result</th><th></th></tr></thead><tbody>
        {{#checks}}<tr><td>{{name}}</td><td>{{ok}}</td><td>{{message}}</td></tr>{{/checks}}
        </tbody></table>
        {{/test}}
        <h2>Hubs and locations</h2>
        <table><thead><tr><th>Hub</th><th>Location</th><th>Channel</th><th></th></tr></thead><tbody>
        {{#mappings}}<tr><td>{{hub}}</td><td>{{locationId}}</td><td>{{channel}}</td><td>{{#canChange}}<form class="inline" method="post" action="/connections/{{connectionId}}/hubs"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="hub" value="{{hub}}"><input type="hidden" name="channel" value="{{channel}}"><input type="hidden" name="remove" value="on"><button type="submit">Remove</button></form>{{/canChange}}</td></tr>{{/mappings}}
        {{^mappings}}<tr><td colspan="4">No hub mapped yet.</td></tr>{{/mappings}}
        </tbody></table>
        {{#canChange}}{{#hubForm}}
        <form class="search" method="post" action="/connections/{{id}}/hubs">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Hub (the WMS's code) <input name="hub" value="{{hub}}" maxlength="64" required></label>{{#hubError}}<span class="error">{{.}}</span>{{/hubError}}
        <label>Amazon location <input name="locationId" value="{{locationId}}" maxlength="64" required></label>{{#locationError}}<span class="error">{{.}}</span>{{/locationError}}
        <label>Channel <select name="channel">{{#channels}}<option>{{.}}</option>{{/channels}}</select></label>
        <button type="submit">Map hub</button>
        </form>
        {{/hubForm}}{{/canChange}}
        {{#locations}}
        <section class="location">
        <h3>Location {{locationId}}: {{mode}}</h3>
        {{#pilot}}<p>Pilot SKUs: {{.}}</p>{{/pilot}}
        {{#showChecklist}}<p>Go-live checklist: shipped order {{shipped}}, seller cancellation {{sellerCancellation}}, customer cancellation {{customerCancellation}}{{#missing}} — still to show: {{.}}{{/missing}}</p>{{/showChecklist}}
        {{#showHandover}}<p>Hand-over: {{openOrders}} open order(s), {{notAtZero}} of {{items}} item(s) not yet at 0 at Amazon{{#clean}} — clean{{/clean}}</p>{{/showHandover}}
        {{#canChange}}
        <form class="mode" method="post" action="/connections/{{connectionId}}/locations/{{locationId}}/mode">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Mode <select name="mode">{{#modes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{value}}</option>{{/modes}}</select></label>
        <label>Pilot SKUs (SKU=most units, one per line) <textarea name="pilotSkus" rows="2">{{pilotText}}</textarea></label>
        <label><input type="checkbox" name="force" value="on"> Go live without the checklist, because <input name="reason" maxlength="500"></label>
        <button type="submit">Change mode</button>
        </form>
        {{/canChange}}
        </section>
        {{/locations}}
        <h2>Change log</h2>
        <table class="changes"><thead><tr><th>When</th><th>Who</th><th>Setting</th><th>From</th><th>To</th></tr></thead><tbody>
        {{#changes}}<tr><td>{{at}}</td><td>{{actor}}</td><td>{{setting}}</td><td>{{old}}</td><td>{{new}}</td></tr>{{/changes}}
        </tbody></table>
        """

    static let stock = """
        <h1>Stock</h1>
        <form class="search" method="get" action="/stock">
        <label>WMS SKU <input name="sku" value="{{sku}}" maxlength="64"></label>
        <label>Items <select name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select></label>
        <button type="submit">Show</button>
        </form>
                {{#hasHubs}}<h2>{{sku}} at the hubs</h2>
        <table><thead><tr><th>Hub</th><th>Units the WMS said</th><th>When</th></tr></thead><tbody>
        {{#hubs}}<tr><td>{{hub}}</td><td>{{quantity}}</td><td>{{at}}</td></tr>{{/hubs}}
        </tbody></table>{{/hasHubs}}
        <h2>At Amazon</h2>
        <table>
        <thead><tr><th>Location</th><th>Merchant SKU</th><th>Channel</th><th>Hub</th><th>WMS SKU</th><th>WMS said</th><th>To send</th><th>Last sent</th><th>Amazon sellable</th><th>Reserved</th><th>Pending</th><th>Error</th></tr></thead>
        <tbody>
        {{#items}}<tr><td>{{locationId}}</td><td>{{merchantSku}}</td><td>{{channel}}</td><td>{{hub}}</td><td><a href="/stock?sku={{warehouseSkuQuery}}">{{warehouseSku}}</a></td><td>{{desired}}</td><td>{{toSend}}</td><td>{{lastSent}}</td><td>{{sellable}}</td><td>{{reserved}}</td><td>{{pending}}</td><td class="error">{{error}}</td></tr>{{/items}}
        {{^items}}<tr><td colspan="12">No item here.</td></tr>{{/items}}
        </tbody>
        </table>
        {{#canImport}}
        <h2>Upload listings</h2>
        <p>A CSV with the columns clientSkuId, channelSerialNo (ASIN), channelSkuId (merchant SKU; left empty, FlexBridge finds the seller's SKU of the ASIN at Amazon) and marketplace, and optionally fulfilledBy (AMAZON, the default, or MERCHANT: its stock goes to Amazon as MFN stock from the MFN hubs). A file
        with a bad row imports nothing; every bad row is listed with its line.</p>
        <form class="upload" method="post" action="/stock/listings" enctype="multipart/form-data">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Connection <select name="connectionId">{{#connections}}<option value="{{id}}">{{name}}</option>{{/connections}}</select></label>
        <label>File <input type="file" name="file" accept=".csv,text/csv" required></label>
        <button type="submit">Upload</button>
        </form>
        {{/canImport}}
        {{#hasRejected}}
        <h2>Rejected rows — nothing was imported</h2>
        <table class="rejected"><thead><tr><th>Line</th><th>Column</th><th>Why</th></tr></thead><tbody>
        {{#rejected}}<tr><td>{{line}}</td><td>{{column}}</td><td>{{reason}}</td></tr>{{/rejected}}
        </tbody></table>
        {{/hasRejected}}
        """

    static let access = """
        <h1>Access</h1>
        {{#newKey}}
        <section class="secret">
        <h2>The new key {{name}}</h2>
        <p>Copy it now; it is not shown again.</p>
        <pre class="secret">{{secret}}</pre>
        </section>
        {{/newKey}}
        <h2>API keys</h2>
        <table><thead><tr><th>Name</th><th>Key starts</th><th>Role</th><th>Connections</th><th>Made</th><th>Last used</th><th>Revoked</th><th></th></tr></thead><tbody>
        {{#keys}}<tr><td>{{name}}</td><td><code>{{prefix}}</code></td><td>{{role}}</td><td>{{connections}}</td><td>{{created}}</td><td>{{lastUsed}}</td><td>{{revoked}}</td>
        <td>{{#canRevoke}}<form class="inline" method="post" action="/access/keys/{{id}}/revoke"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Revoke</button></form>{{/canRevoke}}</td></tr>{{/keys}}
        {{^keys}}<tr><td colspan="8">No key yet.</td></tr>{{/keys}}
        </tbody></table>
        {{#keyForm}}
        <h3>New key</h3>
        <form class="access" method="post" action="/access/keys">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Name <input name="name" value="{{name}}" maxlength="100" required></label>{{#nameError}}<span class="error">{{.}}</span>{{/nameError}}
        <label>Role <select name="role">{{#roles}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/roles}}</select></label>
        <fieldset><legend>Connections (none ticked: all)</legend>{{#connections}}<label><input type="checkbox" name="connection.{{id}}" value="on"{{#checked}} checked{{/checked}}> {{name}}</label>{{/connections}}</fieldset>
        {{#connectionsError}}<span class="error">{{.}}</span>{{/connectionsError}}
        <button type="submit">Make key</button>
        </form>
        {{/keyForm}}
        <h2>Operators</h2>
        <table><thead><tr><th>Name</th><th>Role</th><th>Connections</th><th>Made</th><th>Last login</th><th>State</th><th></th></tr></thead><tbody>
        {{#operators}}<tr><td>{{name}}</td><td>{{role}}</td><td>{{connections}}</td><td>{{created}}</td><td>{{lastLogin}}</td><td>{{state}}</td>
        <td>{{#canDisable}}<form class="inline" method="post" action="/access/operators/{{id}}/disable"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Disable</button></form>{{/canDisable}}</td></tr>{{/operators}}
        </tbody></table>
        {{#operatorForm}}
        <h3>New operator</h3>
        <form class="access" method="post" action="/access/operators">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Name <input name="name" value="{{name}}" maxlength="100" required autocomplete="off"></label>{{#nameError}}<span class="error">{{.}}</span>{{/nameError}}
        <label>Password <input type="password" name="password" maxlength="200" required autocomplete="new-password"></label>{{#passwordError}}<span class="error">{{.}}</span>{{/passwordError}}
        <label>Role <select name="role">{{#roles}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/roles}}</select></label>
        <fieldset><legend>Connections (none ticked: all)</legend>{{#connections}}<label><input type="checkbox" name="connection.{{id}}" value="on"{{#checked}} checked{{/checked}}> {{name}}</label>{{/connections}}</fieldset>
        {{#connectionsError}}<span class="error">{{.}}</span>{{/connectionsError}}
        <button type="submit">Add operator</button>
        </form>
        {{/operatorForm}}
        <h2>Change log</h2>
        <table class="changes"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Before</th><th>After</th></tr></thead><tbody>
        {{#changes}}<tr><td>{{at}}</td><td>{{actor}}</td><td>{{setting}}</td><td>{{old}}</td><td>{{new}}</td></tr>{{/changes}}
        </tbody></table>
        """

    static let message = """
        <h1>{{heading}}</h1>
        <p>{{text}}</p>
        <p><a href="{{link}}">{{linkText}}</a></p>
        """

    static let css = """
        body { font-family: system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
        header { display: flex; gap: 2rem; align-items: center; padding: .6rem 1.5rem; background: #232f3e; color: #fff; }
        header a { color: #fff; text-decoration: none; margin-right: 1rem; }
        header .brand { font-weight: 700; }
        header .logout { margin-left: auto; display: flex; gap: .8rem; align-items: center; }
        main { padding: 1.2rem 1.5rem; max-width: 1200px; }
        table { border-collapse: collapse; background: #fff; margin: .5rem 0 1.2rem; }
        th, td { border: 1px solid #d5d9de; padding: .35rem .6rem; text-align: left; font-size: .92rem; }
        th { background: #eef0f3; }
        .notice { background: #e6f4ea; padding: .5rem .8rem; border-left: 4px solid #2e7d32; }
        .error { color: #b00020; }
        p.error { background: #fdecea; padding: .5rem .8rem; border-left: 4px solid #b00020; }
        .status { font-size: .8rem; padding: .1rem .4rem; border-radius: .3rem; background: #e0e0e0; }
        .status.active { background: #c8e6c9; }
        .filters a { margin-right: .6rem; }
        .filters a.current { font-weight: 700; }
        .actions { display: flex; gap: .8rem; flex-wrap: wrap; align-items: flex-start; }
        .actions form { display: flex; gap: .4rem; align-items: center; }
        form.login, form.receive { display: grid; gap: .8rem; max-width: 360px; }
        form.inline { display: inline; }
        form.search, form.upload { display: flex; gap: .8rem; align-items: end; flex-wrap: wrap; margin: .5rem 0 1rem; }
        form.settings, form.mode { display: grid; gap: .5rem; max-width: 560px; margin-bottom: 1rem; }
        section.location { background: #fff; border: 1px solid #d5d9de; padding: .5rem 1rem; margin-bottom: 1rem; }
        button { padding: .35rem .9rem; }
        a.button { display: inline-block; padding: .35rem .9rem; background: #232f3e; color: #fff; text-decoration: none; }
        code.link { user-select: all; word-break: break-all; }
        form.access { display: grid; gap: .5rem; max-width: 560px; margin-bottom: 1rem; }
        pre.secret { background: #fff; border: 1px solid #d5d9de; padding: .6rem; user-select: all; }
        section.secret { background: #e6f4ea; border-left: 4px solid #2e7d32; padding: .3rem 1rem; }
        .health { display: flex; gap: 1rem; flex-wrap: wrap; }
        .tile { background: #fff; border: 1px solid #d5d9de; padding: .3rem .9rem .6rem; width: 320px; }
        .tile h3 { margin: .3rem 0; font-size: 1rem; }
        .tile p { margin: .3rem 0; font-size: .9rem; }
        svg.chart { display: block; margin-top: .4rem; }
        .actions form.ship fieldset, form.settings fieldset { display: grid; gap: .5rem; border: 1px solid #d5d9de; }
        .actions form.ship fieldset > label, form.settings fieldset > label { display: grid; gap: .2rem; }
        form.settings textarea { width: 100%; font-family: monospace; }
        table.changes td { overflow-wrap: anywhere; max-width: 28rem; }
        .actions form.pack, .actions form.label, .actions form.ship { display: grid; gap: .5rem; align-items: start; background: #fff; border: 1px solid #d5d9de; padding: .6rem .9rem; }
        form.pack fieldset { border: 1px solid #d5d9de; }
        .sizes { display: flex; gap: .6rem; flex-wrap: wrap; align-items: end; }
        .sizes input { width: 6rem; }
        section.putback { background: #fff8e1; border-left: 4px solid #f9a825; padding: .3rem 1rem; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
        dt { font-weight: 600; }
        """
}
