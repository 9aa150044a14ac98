// Admins: what a person knows users and channels by, for the ids that usage records and summaries carry.

import { get } from "./api.js";

export async function siteNames() {
  const [users, channels] = await Promise.all([get("/users?per_page=100"), get("/channels?per_page=100")]);
  const userNames = new Map(users.items.map((user) => [String(user.id), user.name]));
  const channelNames = new Map(channels.items.map((channel) => [String(channel.id), channel.name || `#${channel.id}`]));
  return {
    users: users.items,
    userCount: users.total,
    channels: channels.items,
    user: (id) => (id === null || id === "" ? "—" : userNames.get(String(id)) ?? `#${id}`),
    channel: (id) => (id === null || id === "" ? "—" : channelNames.get(String(id)) ?? `#${id}`),
  };
}
