# winside
