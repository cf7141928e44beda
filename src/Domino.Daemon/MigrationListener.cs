using System.Net;
using System.Net.Sockets;
using Domino.Toolstack.Domains;

namespace Domino.Daemon;

/// <summary>
/// The migration port (<c>--migrate-listen HOST:PORT</c>): each connection brings one domain, by
/// live migration or as a Remus backup, and is served by <see cref="DomainService.AcceptMigrationAsync"/>.
/// </summary>
internal sealed class MigrationListener(DomainService service, IPEndPoint endpoint, Action<string> log) : IAsyncDisposable
{
    private readonly TcpListener _listener = new(endpoint);
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public static IPEndPoint Parse(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
            throw new ToolstackException(ErrorKind.Invalid, $"--migrate-listen {text}: expected HOST:PORT, e.g. 127.0.0.1:8002");
        var host = text[..colon];
        if (!IPAddress.TryParse(host, out var address))
            address = Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new ToolstackException(ErrorKind.Invalid, $"--migrate-listen {text}: cannot resolve {host}");
        return new IPEndPoint(address, port);
    }

    public void Start()
    {
        _listener.Start();
        log($"migration listener on {_listener.LocalEndpoint}");
        _loop = Task.Run(AcceptLoop);
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (SocketException e) { log($"migration listener: {e.Message}"); continue; }
            _ = Task.Run(async () =>
            {
                using (client)
                {
                    client.NoDelay = true;
                    var peer = client.Client.RemoteEndPoint?.ToString() ?? "?";
                    try { await service.AcceptMigrationAsync(client.GetStream(), peer, _stop.Token).ConfigureAwait(false); }
                    catch (Exception e) { log($"migration from {peer}: {e.Message}"); }
                }
            });
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
