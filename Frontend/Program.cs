public static class P2 { public static void Main(){} }
