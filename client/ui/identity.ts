/**
 * Who you are on the editor page: a random friendly name and colour, kept for the tab's life
 * (sessionStorage, so two tabs are two people, and a reload stays the same person).
 */
export interface Identity { name: string, color: string, colorLight: string }

const adjectives = ['Amber', 'Brisk', 'Calm', 'Dapper', 'Eager', 'Fuzzy', 'Gentle', 'Happy', 'Jolly', 'Keen', 'Lucky', 'Mellow', 'Nimble', 'Plucky', 'Quiet', 'Rapid', 'Sunny', 'Tidy', 'Witty', 'Zesty']
const animals = ['Otter', 'Heron', 'Lynx', 'Panda', 'Falcon', 'Badger', 'Koala', 'Marmot', 'Puffin', 'Gecko', 'Walrus', 'Ibis', 'Tapir', 'Wombat', 'Yak', 'Narwhal', 'Quokka', 'Ferret', 'Bison', 'Crane']
// Colours that read well as a caret and as white-on-colour name labels.
const colors = ['#e5484d', '#f76b15', '#d6a000', '#30a46c', '#12a594', '#0090ff', '#3e63dd', '#8e4ec6', '#d6409f', '#ad7f58']

const key = 'weft:identity'

function pick<T> (list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!
}

export function randomIdentity (): Identity {
  const color = pick(colors)
  return { name: `${pick(adjectives)} ${pick(animals)}`, color, colorLight: `${color}33` }
}

export function loadIdentity (): Identity {
  try {
    const saved = JSON.parse(sessionStorage.getItem(key) ?? 'null') as Identity | null
    if (saved !== null && typeof saved.name === 'string' && /^#[0-9a-f]{6}$/i.test(saved.color)) return { ...saved, colorLight: `${saved.color}33` }
  } catch {}
  const fresh = randomIdentity()
  saveIdentity(fresh)
  return fresh
}

export function saveIdentity (identity: Identity): void {
  try { sessionStorage.setItem(key, JSON.stringify(identity)) } catch {}
}
