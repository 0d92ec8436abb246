/**
 * The HTTP side of the cloud simulator, shared by every simulated cloud: a JSON
 * API on 127.0.0.1, a route table, a log of every request served (so a suite
 * can prove the real provider talked to it), and faults on demand.
 *
 * Each cloud module (hetzner.ts; a DigitalOcean one would sit beside it) owns
 * its state, its routes and its error shape; this file knows none of them.
 */
import * as http from 'http';
import * as net from 'net';

/** One request the simulator answered. */
export interface ServedRequest {
  method: string;
  /** Path without the API prefix and without the query, e.g. /servers/3. */
  path: string;
  query: string;
  status: number;
  /** Set when the answer came from an injected fault. */
  fault?: string;
  /** The client's User-Agent (the real hcloud provider sends hcloud-terraform/<version> hcloud-go/<version>). */
  userAgent: string;
  at: number;
}

export interface ApiRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  headers: http.IncomingHttpHeaders;
}

export interface ApiResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: ApiRequest) => ApiResponse | Promise<ApiResponse>;

/**
 * A fault: the next `times` requests matching method and path get this answer
 * instead of being served (nothing of them reaches the cloud's state).
 */
export interface Fault {
  method?: string;
  /** Matched against the path (without prefix and query). */
  path?: RegExp;
  times: number;
  respond: (req: ApiRequest) => ApiResponse;
  label: string;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/** Thrown by handlers: becomes the cloud's error body with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export class SimHttpServer {
  private readonly routes: Route[] = [];
  private readonly faults: Fault[] = [];
  private readonly log: ServedRequest[] = [];
  private server?: http.Server;
  port = 0;

  /**
   * @param prefix path prefix the API lives under, e.g. "/v1"
   * @param authorize returns an error response for a request whose credentials the cloud would refuse
   * @param notFound the cloud's answer for an unknown route
   */
  constructor(
    readonly prefix: string,
    private readonly authorize: (req: ApiRequest) => ApiResponse | undefined,
    private readonly notFound: (req: ApiRequest) => ApiResponse,
  ) {}

  /** Registers `METHOD /path/{param}/...`. */
  route(method: string, template: string, handler: Handler): void {
    const names: string[] = [];
    const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, (_, n: string) => {
      names.push(n);
      return '([^/]+)';
    })}$`);
    this.routes.push({ method, pattern, names, handler });
  }

  inject(fault: Fault): void {
    this.faults.push(fault);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Every request served so far (a copy). */
  requests(): ServedRequest[] {
    return this.log.map((r) => ({ ...r }));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}${this.prefix}`;
  }

  async listen(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server?.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    const method = req.method ?? 'GET';
    let path = url.pathname;
    const entry: ServedRequest = { method, path, query: url.search, status: 0, at: Date.now(), userAgent: req.headers['user-agent'] ?? '' };
    let out: ApiResponse;
    const apiReq: ApiRequest = { method, path, params: {}, query: url.searchParams, body: undefined, headers: req.headers };
    try {
      if (!path.startsWith(`${this.prefix}/`)) throw new HttpError(404, { error: { code: 'not_found', message: 'not found', details: {} } });
      path = path.slice(this.prefix.length);
      entry.path = path;
      apiReq.path = path;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.length > 0) {
        try {
          apiReq.body = JSON.parse(text);
        } catch {
          throw new HttpError(400, { error: { code: 'json_error', message: 'invalid JSON in request body', details: {} } });
        }
      }
      const denied = this.authorize(apiReq);
      const fault = denied ? undefined : this.takeFault(method, path);
      if (denied) {
        out = denied;
      } else if (fault) {
        entry.fault = fault.label;
        out = fault.respond(apiReq);
      } else {
        out = await this.dispatch(apiReq);
      }
    } catch (e) {
      if (e instanceof HttpError) out = { status: e.status, body: e.body, headers: e.headers };
      else out = { status: 500, body: { error: { code: 'server_error', message: `simulator bug: ${String(e)}`, details: {} } } };
    }
    entry.status = out.status;
    this.log.push(entry);
    const body = out.body === undefined ? '' : JSON.stringify(out.body);
    res.writeHead(out.status, {
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      'Content-Length': String(Buffer.byteLength(body)),
      ...(out.headers ?? {}),
    });
    res.end(body);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => (!f.method || f.method === method) && (!f.path || f.path.test(path)) && f.times > 0);
    if (i < 0) return undefined;
    const f = this.faults[i];
    f.times -= 1;
    if (f.times <= 0) this.faults.splice(i, 1);
    return f;
  }

  private async dispatch(req: ApiRequest): Promise<ApiResponse> {
    for (const r of this.routes) {
      if (r.method !== req.method) continue;
      const m = r.pattern.exec(req.path);
      if (!m) continue;
      r.names.forEach((n, i) => (req.params[n] = decodeURIComponent(m[i + 1])));
      return r.handler(req);
    }
    return this.notFound(req);
  }
}
