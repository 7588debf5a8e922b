# Enqueues jobs with Sidekiq's own client (Debian's ruby-sidekiq, Sidekiq 6).
# Usage: ruby sidekiq.rb REDIS_URL QUEUE COUNT [in SECONDS | at EPOCH_SECONDS]
#   COUNT jobs now (push_bulk, in batches of 1,000 as Sidekiq's own), or one job in the `schedule`
#   set due SECONDS from now, or at EPOCH_SECONDS (in the past: due already).
require "sidekiq"

# ruby-redis 4.8 warns about its 5.0 API on every SADD Sidekiq 6.4 sends.
Redis.silence_deprecations = true

url, queue, count, mode, value = ARGV
Sidekiq.configure_client { |config| config.redis = { url: url } }

class HardWorker
  include Sidekiq::Worker
  def perform(n); end
end

case mode
when nil
  args = (1..Integer(count)).map { |n| [n] }
  args.each_slice(1_000) do |slice|
    Sidekiq::Client.push_bulk("class" => HardWorker, "queue" => queue, "args" => slice)
  end
when "in"
  HardWorker.set(queue: queue).perform_in(Float(value), 1)
when "at"
  # perform_at with a time already past enqueues at once; the `at` key goes to `schedule` as a
  # scheduler or a retry would leave it.
  Sidekiq::Client.push("class" => HardWorker, "queue" => queue, "args" => [1], "at" => Float(value))
end
