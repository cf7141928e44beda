using System.Buffers.Binary;

namespace Domino.Vmm.Persist;

/// <summary>Record types of the migration / checkpoint stream.</summary>
public enum StreamRecord : uint
{
    /// <summary>Sender → receiver: stream version, mode, CPU fingerprint hash, the VM's config and the state format's CPU section.</summary>
    Hello = 1,
    /// <summary>Receiver → sender: ready for pages (empty body), or <see cref="Error"/>.</summary>
    Ready = 2,
    /// <summary>Guest pages: runs of (u64 gpa, u32 page count, u32 flags), data follows unless the run is zero.</summary>
    Pages = 3,
    /// <summary>Device, irqchip and vCPU state (<see cref="VmSnapshot.Encode"/>); ends a migration or a checkpoint.</summary>
    State = 4,
    /// <summary>
    /// Receiver → sender: migration, the final state is loaded and the VM waits paused for
    /// <see cref="Go"/> (it runs on nothing else); Remus, the checkpoint is committed.
    /// </summary>
    Ack = 5,
    /// <summary>Sender → receiver: start the guest now (migration). From here on the sender never resumes its copy on its own.</summary>
    Go = 6,
    /// <summary>Receiver → sender: the guest runs here.</summary>
    Started = 7,
    /// <summary>Either way: a refusal or failure, UTF-8 text; the stream ends.</summary>
    Error = 8,
    /// <summary>Sender → receiver (Remus): still alive, nothing to commit.</summary>
    Heartbeat = 9,
    /// <summary>Sender → receiver (Remus): the domain ended or protection stopped on purpose; discard, do not fail over.</summary>
    Shutdown = 10,
}

/// <summary>
/// Framed records over a byte stream: {u32 type, u32 length, u32 CRC-32C of the body, body}, the
/// same framing as a state file's sections. A damaged record is a <see cref="SnapshotException"/>.
/// </summary>
public sealed class MigrationChannel(Stream stream) : IDisposable
{
    public const uint StreamVersion = 1;
    public const int MaxRecord = 64 << 20;

    private readonly Lock _sendLock = new();

    public long BytesSent { get; private set; }

    public void Send(StreamRecord type, ReadOnlySpan<byte> body)
    {
        Span<byte> head = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(head[8..], Crc32C.Compute(body));
        lock (_sendLock)
        {
            stream.Write(head);
            stream.Write(body);
            stream.Flush();
            BytesSent += 12 + body.Length;
        }
    }

    public void SendError(string message)
    {
        try { Send(StreamRecord.Error, System.Text.Encoding.UTF8.GetBytes(message)); }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException) { }
    }

    /// <summary>Next record; an <see cref="StreamRecord.Error"/> from the peer is thrown as <see cref="MigrationException"/>.</summary>
    public (StreamRecord Type, byte[] Body) Receive()
    {
        var head = new byte[12];
        ReadExactly(head);
        var type = (StreamRecord)BinaryPrimitives.ReadUInt32LittleEndian(head);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(4));
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(head.AsSpan(8));
        if (length > MaxRecord) throw new SnapshotException($"migration stream: record {type} claims {length} bytes (corrupt stream)");
        var body = new byte[length];
        ReadExactly(body);
        if (Crc32C.Compute(body) != crc) throw new SnapshotException($"migration stream: record {type} is corrupt (CRC-32C mismatch)");
        if (type == StreamRecord.Error) throw new MigrationPeerException($"peer: {System.Text.Encoding.UTF8.GetString(body)}");
        return (type, body);
    }

    public byte[] Expect(StreamRecord expected)
    {
        var (type, body) = Receive();
        if (type != expected) throw new MigrationException($"migration stream: expected {expected}, got {type}");
        return body;
    }

    private void ReadExactly(Span<byte> buffer)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new MigrationException("connection closed by the peer");
        }
    }

    public void Dispose() => stream.Dispose();
}

/// <summary>A migration or checkpoint stream failed; the message says where and why.</summary>
public class MigrationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The peer reported its own failure (an Error record): it says what it did, so nothing of this guest runs there.</summary>
public sealed class MigrationPeerException(string message) : MigrationException(message);

/// <summary>
/// The target was told to start the guest (Go went out, or may have) and its answer never came:
/// the guest may run there. The source keeps its copy paused and does not resume it on its own;
/// whoever can look at the target decides (destroy here if it runs there, else unpause here).
/// </summary>
public sealed class MigrationOutcomeUnknownException(string message, Exception? inner = null) : MigrationException(message, inner);
