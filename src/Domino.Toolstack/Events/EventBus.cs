using System.Threading.Channels;

namespace Domino.Toolstack.Events;

/// <summary>
/// Fans domain events out to subscribers. Each subscriber has its own bounded queue; a subscriber
/// that falls more than <see cref="QueueLength"/> events behind loses the oldest, never blocks the toolstack.
/// </summary>
public sealed class EventBus
{
    private const int QueueLength = 4096;
    private readonly Lock _sync = new();
    private readonly List<Channel<DomainEvent>> _subscribers = [];
    private long _seq;

    public DomainEvent Publish(DomainEvent e)
    {
        lock (_sync)
        {
            e = e with { Seq = ++_seq, Time = DateTimeOffset.UtcNow };
            foreach (var s in _subscribers) s.Writer.TryWrite(e);
        }
        return e;
    }

    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<DomainEvent>(new BoundedChannelOptions(QueueLength)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_sync) _subscribers.Add(channel);
        return new Subscription(this, channel);
    }

    private void Unsubscribe(Channel<DomainEvent> channel)
    {
        lock (_sync) _subscribers.Remove(channel);
        channel.Writer.TryComplete();
    }

    public sealed class Subscription(EventBus bus, Channel<DomainEvent> channel) : IDisposable
    {
        public ChannelReader<DomainEvent> Reader => channel.Reader;
        public void Dispose() => bus.Unsubscribe(channel);
    }
}
