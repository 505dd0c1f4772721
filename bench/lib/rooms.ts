/** Room sizes of the presence scenarios, and how they are given in the environment. */

export interface Room { users: number, rooms: number }

/** `value` as rooms: `"10x5,20x1"` (users × rooms), each of at least `minUsers`; `name` is the variable, for the error. */
export function parseRooms (name: string, value: string, minUsers: number): Room[] {
  return value.split(',').map(s => {
    const [users, rooms] = s.split('x').map(Number)
    if (!(Number.isInteger(users) && users! >= minUsers && Number.isInteger(rooms) && rooms! >= 1)) throw new Error(`${name}: "${s}" is not users×rooms with at least ${minUsers} users (e.g. 10x2)`)
    return { users: users!, rooms: rooms! }
  })
}
