/**
 * An app's presence code written only against the hosted SDK's typings (`@tencentcloud/chat`):
 * a roster that logs in, keeps its contacts' statuses up to date and reports what it saw. It
 * names no Presently API; tests/compat.test.ts type-checks it against both SDKs and runs it on
 * Presently through a bundler alias (`@tencentcloud/chat` -> `@presently/client`).
 */
import TencentCloudChat, { ChatSDK } from '@tencentcloud/chat';

export interface RosterConfig {
  SDKAppID: number;
  userID: string;
  userSig: string;
  contacts: string[];
  /** The hosted SDK's WebSocket proxy option; left out when the address is set outside the app. */
  proxyServer?: string;
}

export interface Contact {
  statusType: number;
  customStatus: string;
}

export interface Roster {
  chat: ChatSDK;
  contacts: Map<string, Contact>;
  /** Event names in the order they arrived, with 'login resolved' where the login promise resolved. */
  timeline: string[];
  kickedOutType: string;
  netState: TencentCloudChat.TYPES;
  onlineStatusEnabled: boolean;
  repeatLogin: unknown;
  serverTime: number;
  /** Resolves when `pred` holds after a USER_STATUS_UPDATED. */
  until(pred: (contacts: Map<string, Contact>) => boolean): Promise<void>;
  setMood(text: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startRoster(config: RosterConfig): Promise<Roster> {
  const options = config.proxyServer ? { SDKAppID: config.SDKAppID, proxyServer: config.proxyServer } : { SDKAppID: config.SDKAppID };
  const chat: ChatSDK = TencentCloudChat.create(options);
  chat.setLogLevel(1);
  chat.registerPlugin({ 'tim-upload-plugin': {} });
  const contacts = new Map<string, Contact>();
  const timeline: string[] = [];
  const waiters: Array<() => void> = [];
  let netState: TencentCloudChat.TYPES = TencentCloudChat.TYPES.NET_STATE_DISCONNECTED;
  let kickedOutType = '';

  const eventName: string = TencentCloudChat.EVENT.SDK_NOT_READY;
  const handlers: Array<[string, Function]> = [
    [TencentCloudChat.EVENT.SDK_READY, () => timeline.push('ready')],
    [eventName, () => timeline.push('not ready')],
    [TencentCloudChat.EVENT.MESSAGE_RECEIVED, () => timeline.push('message')],
    [
      TencentCloudChat.EVENT.KICKED_OUT,
      (event: any) => {
        kickedOutType = event.data.type;
        timeline.push('kicked');
      },
    ],
    [
      TencentCloudChat.EVENT.NET_STATE_CHANGE,
      (event: any) => {
        netState = event.data.state;
      },
    ],
    [TencentCloudChat.EVENT.ERROR, (event: any) => timeline.push(`error ${event.data.code}`)],
  ];
  for (const [name, handler] of handlers) chat.on(name, handler);
  chat.on(
    TencentCloudChat.EVENT.USER_STATUS_UPDATED,
    function (this: { contacts: Map<string, Contact> }, event: any) {
      for (const item of event.data as Array<{ userID: string; statusType: number; customStatus: string }>) {
        this.contacts.set(item.userID, { statusType: item.statusType, customStatus: item.customStatus });
      }
      for (const w of waiters.splice(0)) w();
    },
    { contacts },
  );

  const ready = new Promise<void>((resolve) => chat.on(TencentCloudChat.EVENT.SDK_READY, () => resolve()));
  const login = await chat.login({ userID: config.userID, userSig: config.userSig });
  timeline.push('login resolved');
  if (login.data.repeatLogin === true) throw new Error('a first login cannot be a repeat');
  await ready;

  const ability = await chat.callExperimentalAPI('isCommercialAbilityEnabled', Math.pow(2, 7));
  const onlineStatusEnabled: boolean = ability.data.enabled;
  if (onlineStatusEnabled) {
    const res = await chat.getUserStatus({ userIDList: [config.userID, ...config.contacts] });
    for (const s of res.data.successUserList) {
      if (s.userID !== config.userID) contacts.set(s.userID, { statusType: s.statusType, customStatus: s.customStatus });
    }
    await chat.subscribeUserStatus({ userIDList: config.contacts });
  }
  const again = await chat.login({ userID: config.userID, userSig: config.userSig });
  const serverTime: Number = chat.getServerTime();
  const me: String = chat.getLoginUser();
  if (me !== config.userID) throw new Error(`logged in as ${String(me)}`);

  const roster: Roster = {
    chat,
    contacts,
    timeline,
    get kickedOutType() {
      return kickedOutType;
    },
    get netState() {
      return netState;
    },
    onlineStatusEnabled,
    repeatLogin: again.data.repeatLogin,
    serverTime: Number(serverTime),
    until: (pred) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (pred(contacts)) resolve();
          else waiters.push(check);
        };
        check();
      }),
    async setMood(text) {
      await chat.setSelfStatus({ customStatus: text });
    },
    async stop() {
      if (chat.isReady()) await chat.unsubscribeUserStatus({ userIDList: undefined });
      if (chat.isReady()) await chat.logout();
      await chat.destroy();
    },
  };
  return roster;
}
